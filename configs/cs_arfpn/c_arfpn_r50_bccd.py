# C-ARFPN (Song et al., 2021): channel attention residual units (C-ARU) in every ResNet-50
# bottleneck, and channel attention on the FPN outputs. Otherwise the FPN baseline.
_base_ = ['./faster_rcnn_r50_fpn_bccd.py']

model = dict(
    backbone=dict(type='CSARUResNet', attention='channel'),
    neck=dict(type='AttentionFPN', attention_cfg=dict(type='ChannelAttentionUnit', ratio=16)))
