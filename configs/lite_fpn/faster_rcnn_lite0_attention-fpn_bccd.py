# faster_rcnn_lite0_fpn_bccd.py with mmcell's AttentionFPN in place of the FPN: CS-ARFPN's
# channel + spatial attention unit (CBAM-style, ratio 16) on each of the five output levels, where
# the RPN and the RoI extractor read them (configs/cs_arfpn). Everything else the same, so the two
# configs compare the neck alone on a pretrained backbone.
_base_ = ['./faster_rcnn_lite0_fpn_bccd.py']
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(
    neck=dict(type='AttentionFPN',
              attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16)))
