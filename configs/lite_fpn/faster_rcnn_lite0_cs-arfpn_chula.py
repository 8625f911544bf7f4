# CS-ARFPN on the pretrained backbone (Song et al. 2021, Table 3's CS-ARFPN row):
# faster_rcnn_lite0_c-arfpn_chula.py with CS-ARU (channel, then spatial attention; CBAM-style,
# ratio 16, 7x7) in the blocks of stages 3-7 and on the AttentionFPN's levels. In the backbone
# both gates start at sigmoid(6) (its stride-32 map within 5% of the pretrained one).
_base_ = ['./faster_rcnn_lite0_c-arfpn_chula.py']
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(
    backbone=dict(plugins=[dict(
        cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16, gate_bias=6.0),
        stages=(False, False, True, True, True, True, True))]),
    neck=dict(attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16)))
