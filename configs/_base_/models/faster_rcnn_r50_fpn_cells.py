# mmdet's Faster R-CNN R50-FPN set up for blood cells (the CS-ARFPN paper's baseline): trained
# from scratch here (no ImageNet download), so the backbone is unfrozen with trainable BN;
# smallest anchor 32 px, RoIAlign, more detections kept than COCO's 100. Set
# model.roi_head.bbox_head.num_classes in the config that uses it.
# With ImageNet weights, set model.backbone.init_cfg=dict(type='Pretrained',
# checkpoint='torchvision://resnet50') and, as mmdet does for fine-tuning, frozen_stages=1,
# norm_eval=True.
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py']

model = dict(
    backbone=dict(frozen_stages=-1, norm_eval=False, init_cfg=None),
    rpn_head=dict(
        # Smallest anchor 4 px stride x 8 = 32 px on P2 (the paper's best for CS-ARFPN), then
        # 64..512 px on P3-P6.
        anchor_generator=dict(scales=[8], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0))),
    # ~25-35 red cells a field: keep more detections than COCO's default of 100 needs.
    test_cfg=dict(rcnn=dict(score_thr=0.05, max_per_img=200)),
)
