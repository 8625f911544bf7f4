# faster_rcnn_lite0_fpn_bccd.py trained on BCCD's training split and TXL-PBC's (without the
# TXL-PBC re-annotations of BCCD val and test frames; _base_/datasets/bccd_txl_pbc.py), validated
# and tested on BCCD as the BCCD config: 205 + 944 images, 575 iterations of batch 2 an epoch.
# The same model, input size (480x360; TXL-PBC's 360-575 px square images come to 360x360) and
# optimiser, for a fixed number of iterations that fits the same CPU budget: 1,400 (about 2.4
# epochs; the BCCD config trains 1,236), the lr divided by 10 at 1,000 and 1,300, validation at
# the end.
_base_ = [
    '../_base_/models/faster_rcnn_lite0_fpn_cells.py',
    '../_base_/datasets/bccd_txl_pbc.py',
    '../_base_/schedules/cells_adamw_pretrained.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(roi_head=dict(bbox_head=dict(num_classes=3)))
image_scale = (480, 360)
train_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                  for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                 for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(datasets=[
    dict(dataset, pipeline=train_pipeline) for dataset in _base_.train_dataloader.dataset.datasets
]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

iterations = 1400
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=iterations,
                 val_interval=iterations)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=iterations, milestones=[1000, 1300],
         gamma=0.1),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=iterations))
log_processor = dict(by_epoch=False)
