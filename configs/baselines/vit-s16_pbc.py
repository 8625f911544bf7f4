# Baseline: ViT-S/16 (DeiT-S's architecture: 384 channels, 12 layers, 6 heads; 22 M parameters,
# close to CellViT's 20 M) on PBC with CellViT's data pipeline and CPU-budget schedule
# (../cellvit/cellvit_pbc.py: 128x128, 25 epochs, AdamW + cosine), cross-entropy only, no
# mixup/cutmix, from scratch. ViT-B/16 (baselines/vit-b16_munich.py) costs four times this.
_base_ = [
    '../_base_/models/vit-s16_pbc.py',
    '../_base_/datasets/pbc.py',
    '../_base_/schedules/pbc_cpu_budget.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)
