# The FPN baseline with ResNet-101 (paper Table 3); otherwise faster_rcnn_r50_fpn_bccd.py.
_base_ = './faster_rcnn_r50_fpn_bccd.py'

model = dict(backbone=dict(depth=101))
