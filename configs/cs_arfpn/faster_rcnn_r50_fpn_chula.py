# The detection paper's own task on public data: Faster R-CNN, ResNet-50 + FPN, RoIAlign, on
# Chula-RBC-12's 13 red-cell classes at their native 640x480 (boxes and split:
# configs/_base_/datasets/chula_rbc12.py). The BCCD baseline's model and schedule otherwise.
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn_cells.py',
    '../_base_/datasets/chula_rbc12.py',
    '../_base_/schedules/cells_sgd_1x.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(roi_head=dict(bbox_head=dict(num_classes=13)))
