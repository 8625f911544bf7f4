# Baseline of the CS-ARFPN paper's Table 3: Faster R-CNN, ResNet-50 + FPN, RoIAlign, on BCCD.
# Trained from scratch here (no ImageNet download): the backbone is unfrozen with trainable BN.
# With ImageNet weights, set model.backbone.init_cfg=dict(type='Pretrained',
# checkpoint='torchvision://resnet50') and, as mmdet does for fine-tuning, frozen_stages=1,
# norm_eval=True.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../_base_/datasets/bccd.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)

model = dict(
    backbone=dict(frozen_stages=-1, norm_eval=False, init_cfg=None),
    rpn_head=dict(
        # Smallest anchor 4 px stride x 8 = 32 px on P2 (the paper's best for CS-ARFPN), then
        # 64..512 px on P3-P6.
        anchor_generator=dict(scales=[8], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0)),
        bbox_head=dict(num_classes=3)),
    # ~25 red cells per BCCD image: keep more detections than COCO's default of 100 needs.
    test_cfg=dict(rcnn=dict(score_thr=0.05, max_per_img=200)),
)

# SGD with momentum 0.9 and weight decay 1e-4 (the paper), step decay at epochs 8 and 11;
# lr for batch 2 on one device (mmdet's 0.02 is for 16 images).
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.0025, momentum=0.9, weight_decay=1e-4))
auto_scale_lr = dict(enable=False, base_batch_size=2)
default_hooks = dict(logger=dict(interval=10))
