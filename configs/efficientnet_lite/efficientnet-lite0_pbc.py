# EfficientNet-Lite0 from its ImageNet weights, fine-tuned on PBC (8 classes, 128x128) for 6 epochs:
# scale and crop jitter, flips (horizontal, vertical, diagonal) and colour jitter.
#   MMCELL_DATA=../shared/data python tools/train.py configs/efficientnet_lite/efficientnet-lite0_pbc.py
_base_ = [
    '../_base_/models/efficientnet-lite0.py',
    '../_base_/datasets/pbc.py',
    '../_base_/schedules/pbc_finetune.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(head=dict(num_classes=8))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale={{_base_.image_size}}, crop_ratio_range=(0.6, 1.0)),
    dict(type='RandomFlip', prob=[0.25, 0.25, 0.25],
         direction=['horizontal', 'vertical', 'diagonal']),
    # hue stays 0: mmcv 2.1's adjust_hue overflows on numpy 2 for negative shifts
    dict(type='ColorJitter', brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
