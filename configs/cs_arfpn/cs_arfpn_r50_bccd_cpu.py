# CS-ARFPN R50 of the README's BCCD table: cs_arfpn_r50_bccd.py with the CPU budget of its
# baseline, faster_rcnn_r50_fpn_bccd_cpu.py (320x240, batch 2, 6 epochs, from scratch).
_base_ = ['./faster_rcnn_r50_fpn_bccd_cpu.py']

model = dict(
    backbone=dict(type='CSARUResNet', attention='channel_spatial'),
    neck=dict(type='AttentionFPN',
              attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16)))
