# CS-ARFPN (Song et al., 2021), the BCCD entry point: channel + spatial attention residual units
# (CS-ARU) in every ResNet-50 bottleneck and on the FPN outputs, Faster R-CNN with RoIAlign,
# smallest anchor 32 px. Otherwise the FPN baseline (faster_rcnn_r50_fpn_bccd.py).
_base_ = ['./faster_rcnn_r50_fpn_bccd.py']

model = dict(
    backbone=dict(type='CSARUResNet', attention='channel_spatial'),
    neck=dict(type='AttentionFPN',
              attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16)))
