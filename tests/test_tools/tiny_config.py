"""A tiny classification config for tool tests; the tests fill in data_root and work_dir."""


def tiny_classifier_config(data_root, max_iters=4, **overrides):
    """Config text: a 8-channel ResNet-18 on the 32 px synthetic crops, by iterations."""
    extra = ''.join(f'{key} = {value!r}\n' for key, value in overrides.items())
    return f"""
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=5, in_channels=64, topk=(1, )))
data_preprocessor = dict(num_classes=5, mean=[128.0] * 3, std=[64.0] * 3, to_rgb=True)
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root={str(data_root)!r}, pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
test_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root={str(data_root)!r}, pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(type='Accuracy', topk=(1, ))
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
train_cfg = dict(type='IterBasedTrainLoop', max_iters={max_iters})
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, deterministic=True)
{extra}"""


def tiny_detector_config(data_root, max_iters=2):
    """Config text: a narrow Faster R-CNN (ResNet-18 at 8 channels, RoIAlign) on ``tiny_coco``."""
    return f"""
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py', 'mmdet::_base_/default_runtime.py']
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)
model = dict(
    backbone=dict(depth=18, base_channels=8, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    rpn_head=dict(in_channels=16, feat_channels=16),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=16),
                  bbox_head=dict(in_channels=16, fc_out_channels=32, num_classes=2)))
metainfo = dict(classes=('rbc', 'wbc'))
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(96, 96), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                          'scale_factor'))]
dataset = dict(type='CocoDataset', data_root={str(data_root)!r}, ann_file='ann.json',
               data_prefix=dict(img='images/'), metainfo=metainfo, pipeline=pipeline)
train_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(dataset, filter_cfg=None),
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        batch_sampler=dict(type='AspectRatioBatchSampler'))
test_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(dataset, test_mode=True),
                       sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(type='CocoMetric', ann_file={str(data_root / 'ann.json')!r}, metric='bbox')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
train_cfg = dict(type='IterBasedTrainLoop', max_iters={max_iters})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
"""
