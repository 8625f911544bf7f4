# C-ARFPN on the pretrained backbone (Song et al. 2021, Table 3's C-ARFPN row):
# faster_rcnn_lite0_fpn_bccd.py with C-ARU (squeeze-excitation, ratio 16) after the projection of
# every block of Lite0's stages 3-7 (the trained ones: the stem and stages 1-2 stay frozen), where
# the paper puts it after conv3 of each ResNet bottleneck, and AttentionFPN with C-ARU on each
# output level (its own init, as the FPN's). The backbone's units are not in the ImageNet weights:
# their gates start at sigmoid(6) = 0.9975 whatever the input (gate_bias), so the backbone starts
# close to the pretrained one (its stride-32 map within 3%).
_base_ = ['./faster_rcnn_lite0_fpn_bccd.py']
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(
    backbone=dict(plugins=[dict(
        cfg=dict(type='ChannelAttentionUnit', ratio=16, gate_bias=6.0),
        stages=(False, False, True, True, True, True, True))]),
    neck=dict(type='AttentionFPN', attention_cfg=dict(type='ChannelAttentionUnit', ratio=16)))
