# Ablation (paper Table 3): CellViT with the sparse attention head but cross-entropy only.
_base_ = './cellvit_munich.py'

model = dict(head=dict(contrastive_loss=None))
