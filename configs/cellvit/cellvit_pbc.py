# CellViT trained from scratch on PBC (8 classes) within a CPU budget of about an hour on
# 2 cores: 128x128 inputs, 25 epochs, AdamW with cosine decay. The baselines *_pbc.py use the
# same data, input size and schedule. Munich AML with the paper's own recipe: cellvit_munich.py.
_base_ = [
    '../_base_/models/cellvit.py',
    '../_base_/datasets/pbc.py',
    '../_base_/schedules/pbc_cpu_budget.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(head=dict(num_classes=8))
