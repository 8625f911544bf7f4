# cellvit_pbc.py with the cross-lab training recipe (../_base_/datasets/pbc_stain.py: scale and
# crop jitter, Romanowsky stain and LAB-statistics augmentation, photometric jitter, blur, JPEG).
_base_ = [
    '../_base_/models/cellvit.py',
    '../_base_/datasets/pbc_stain.py',
    '../_base_/schedules/pbc_cpu_budget.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(head=dict(num_classes=8))
