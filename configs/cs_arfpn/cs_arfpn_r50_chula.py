# CS-ARFPN (Song et al., 2021) on Chula-RBC-12: channel + spatial attention residual units
# (CS-ARU) in every ResNet-50 bottleneck and on the FPN outputs; otherwise
# faster_rcnn_r50_fpn_chula.py.
_base_ = ['./faster_rcnn_r50_fpn_chula.py']

model = dict(
    backbone=dict(type='CSARUResNet', attention='channel_spatial'),
    neck=dict(type='AttentionFPN',
              attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16)))
