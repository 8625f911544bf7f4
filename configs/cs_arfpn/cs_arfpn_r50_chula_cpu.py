# CS-ARFPN R50 on Chula-RBC-12 (cs_arfpn_r50_chula.py) within the CPU budget of its baseline,
# faster_rcnn_r50_fpn_chula_cpu.py (640x480, batch 2, 12 epochs, 256 RoIs, bf16 backbone and neck).
_base_ = ['./faster_rcnn_r50_fpn_chula_cpu.py']

model = dict(
    backbone=dict(type='CSARUResNet', attention='channel_spatial'),
    neck=dict(type='AttentionFPN',
              attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16)))
