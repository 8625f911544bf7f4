# The plain FPN baseline of the README's BCCD table, trained from scratch within a CPU budget:
# faster_rcnn_r50_fpn_bccd.py at 480x360 (3/4 of BCCD's 640x480), batch 2, lr 0.005 after a
# 100-iteration warm-up, 12 epochs with steps at 8 and 11. cs_arfpn_r50_bccd_cpu.py is the same
# with the attention units.
_base_ = ['./faster_rcnn_r50_fpn_bccd.py']

image_scale = (480, 360)
train_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                  for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                 for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=0.005))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=12, milestones=[8, 11], gamma=0.1),
]
train_cfg = dict(max_epochs=12, val_interval=4)
default_hooks = dict(checkpoint=dict(interval=4, max_keep_ckpts=2))
