# CS-ARFPN's backbone and neck (CSARUResNet-50 with CS-ARU, AttentionFPN) dropped into mmdet's
# RetinaNet (paper Table 7 compares detectors), on BCCD, from scratch; the data, optimizer and
# schedule of faster_rcnn_r50_fpn_bccd.py. RetinaNet's smallest anchor: 4 x stride 8 = 32 px.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/bccd.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(
    backbone=dict(type='CSARUResNet', attention='channel_spatial', frozen_stages=-1,
                  norm_eval=False, init_cfg=None),
    neck=dict(type='AttentionFPN',
              attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16)),
    bbox_head=dict(num_classes=3),
    test_cfg=dict(max_per_img=200),
)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.0025, momentum=0.9, weight_decay=1e-4),
                     clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=2)
default_hooks = dict(logger=dict(interval=10))
