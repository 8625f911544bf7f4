# cellvit_pbc_stain.py (the cross-lab recipe) at the quick budget of cellvit_pbc_quick.py
# (8 epochs): the cross-lab table's CellViT run.
_base_ = [
    '../_base_/models/cellvit.py',
    '../_base_/datasets/pbc_stain.py',
    '../_base_/schedules/pbc_quick.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(head=dict(num_classes=8))
