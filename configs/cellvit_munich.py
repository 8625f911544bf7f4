# Entry point kept at the top of configs/ (users were promised this path): CellViT on Munich AML,
# the paper's recipe. The config itself is configs/cellvit/cellvit_munich.py; this file only
# inherits it, and tools/train.py names the work dir after the file name, so both give
# work_dirs/cellvit_munich. The other CellViT configs: configs/cellvit/README.md.
_base_ = ['./cellvit/cellvit_munich.py']
