# The quick start's classification run (`make demo`, tools/demo.py): cellvit_pbc.py with the short
# schedule (8 epochs, cosine decay, no warm-up), on PBC or on synthetic crops in its layout.
_base_ = [
    '../_base_/models/cellvit.py',
    '../_base_/datasets/pbc.py',
    '../_base_/schedules/pbc_quick.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(head=dict(num_classes=8))
