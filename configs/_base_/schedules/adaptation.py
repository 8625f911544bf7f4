# Adapting a trained classifier to a lab's own cells: a short fine-tune on a few labelled crops
# (tools/adapt_classifier.py, tools/analysis_tools/adaptation_curve.py). Merged onto the
# classifier's own config, whose model and training pipeline stay (mmcell.review.
# adaptation_config): what is marked _delete_ replaces the classifier's setting whole. AdamW with
# cosine decay to 1% over a fixed number of iterations, batch 16, no validation, one checkpoint
# at the end. The tool then sets, as --cfg-options would: the iterations (train_cfg.max_iters,
# param_scheduler.0.end, default_hooks.checkpoint.interval), the learning rate by what trains,
# the annotation list (train_dataloader.dataset), load_from, the seed and the backbone's
# frozen_stages.
train_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=150, eta_min_ratio=0.01)
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=150)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=15),
    checkpoint=dict(
        _delete_=True,
        type='CheckpointHook',
        by_epoch=False,
        interval=150,
        max_keep_ckpts=1,
        save_last=True))
log_processor = dict(by_epoch=False)
custom_hooks = []
resume = False
randomness = dict(seed=0)
