# CellViT on Munich AML, the paper's recipe (Wang et al., 2023, Sect. 4.2): 224x224, batch 32,
# SGD momentum 0.9, weight decay 5e-4, lr 1e-3 divided by 10 at epochs 40/70/90, 100 epochs,
# the 10 paper classes, cross-entropy + thresholded contrastive loss (t = 0.4).
# Fold 0 of the seeded 5-fold split;
# `python tools/cross_validate.py configs/cellvit/cellvit_munich.py` runs all five.
_base_ = [
    '../_base_/models/cellvit.py',
    '../_base_/datasets/munich_aml.py',
    '../_base_/schedules/paper_sgd_100e.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(head=dict(num_classes=10))
