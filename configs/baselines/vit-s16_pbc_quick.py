# ViT-S/16 (DeiT-small layout) from scratch on PBC at the quick budget (8 epochs): the
# transformer reference of the CellViT ablation at the same data, input size and schedule.
_base_ = [
    '../_base_/models/vit-s16_pbc.py',
    '../_base_/datasets/pbc.py',
    '../_base_/schedules/pbc_quick.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)
