# Baseline of the CS-ARFPN paper's Table 3: Faster R-CNN, ResNet-50 + FPN, RoIAlign, on BCCD,
# from scratch (the model: configs/_base_/models/faster_rcnn_r50_fpn_cells.py).
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn_cells.py',
    '../_base_/datasets/bccd.py',
    '../_base_/schedules/cells_sgd_1x.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(roi_head=dict(bbox_head=dict(num_classes=3)))
