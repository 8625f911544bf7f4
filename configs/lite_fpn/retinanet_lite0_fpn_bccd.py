# RetinaNet on the pretrained lite backbone, on BCCD: one stage, so no RoIAlign, whose CPU kernel
# is about half of the two-stage model's inference time at 500 proposals. mmdet's RetinaNet with
# faster_rcnn_lite0_fpn_bccd.py's backbone (EfficientNet-Lite0 from ImageNet, stages up to stride
# 4 frozen, BatchNorm statistics kept) and a 128-channel FPN on the stride-8/16/32 outputs (40,
# 112, 320 channels) with two extra levels (P3-P7; smallest anchor 4 x stride 8 = 32 px), its
# 4-conv heads 128 wide; neck and head in bf16 with channels-last weights. BCCD's native
# 640x480: its finest level is stride 8, where a 39 px platelet is 5 px (4 px at 480x360), and
# at 640x480 a step costs what the two-stage model's does at 480x360 (1.6 s at one thread). The
# BCCD config's optimiser and 12-epoch schedule.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/bccd.py',
    '../_base_/schedules/cells_adamw_pretrained.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

fpn_channels = 128
model = dict(
    data_preprocessor=dict(mean=[127.0] * 3, std=[128.0] * 3, bgr_to_rgb=True),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(2, 3, 5, 7),
        frozen_stages=3,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0')),
    neck=dict(in_channels=[24, 40, 112, 320], out_channels=fpn_channels, start_level=1,
              add_extra_convs='on_input', num_outs=5),
    bbox_head=dict(num_classes=3, in_channels=fpn_channels, feat_channels=fpn_channels),
    # ~25-35 red cells a field: keep more detections than COCO's 100
    test_cfg=dict(max_per_img=200),
)
image_scale = (640, 480)
train_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                  for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                 for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
custom_hooks = [dict(type='AutocastModulesHook', modules=('neck', 'bbox_head'), channels_last=True)]
