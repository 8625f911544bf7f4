# CS-ARFPN's backbone and neck (CSARUResNet-50 with CS-ARU, AttentionFPN) in mmdet's Cascade
# R-CNN (paper Table 7), RoIAlign, smallest anchor 32 px, on BCCD, from scratch; the data,
# optimizer and schedule of faster_rcnn_r50_fpn_bccd.py.
_base_ = [
    'mmdet::_base_/models/cascade-rcnn_r50_fpn.py',
    '../_base_/datasets/bccd.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)



def _stage_head(target_stds):
    # mmdet's cascade head of each stage, with BCCD's 3 classes.
    return dict(
        type='Shared2FCBBoxHead', in_channels=256, fc_out_channels=1024, roi_feat_size=7,
        num_classes=3, reg_class_agnostic=True,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                        target_stds=target_stds),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))


model = dict(
    backbone=dict(type='CSARUResNet', attention='channel_spatial', frozen_stages=-1,
                  norm_eval=False, init_cfg=None),
    neck=dict(type='AttentionFPN',
              attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16)),
    rpn_head=dict(anchor_generator=dict(scales=[8])),
    roi_head=dict(bbox_head=[_stage_head([0.1, 0.1, 0.2, 0.2]),
                             _stage_head([0.05, 0.05, 0.1, 0.1]),
                             _stage_head([0.033, 0.033, 0.067, 0.067])]),
    test_cfg=dict(rcnn=dict(score_thr=0.05, max_per_img=200)),
)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.0025, momentum=0.9, weight_decay=1e-4))
auto_scale_lr = dict(enable=False, base_batch_size=2)
default_hooks = dict(logger=dict(interval=10))
