# The plain FPN baseline of the README's BCCD table, trained from scratch within a CPU budget:
# faster_rcnn_r50_fpn_bccd.py at 320x240 (half of BCCD's 640x480; platelets are still ~20 px,
# which the 32 px anchors cover), batch 2, lr 0.005 after a 100-iteration warm-up, 6 epochs with
# steps at 4 and 5 (measured: 7.6 s per iteration on one core of the 2-core CPU, 81 min).
# cs_arfpn_r50_bccd_cpu.py is the same with the attention units.
_base_ = ['./faster_rcnn_r50_fpn_bccd.py']

image_scale = (320, 240)
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
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=6, milestones=[4, 5], gamma=0.1),
]
train_cfg = dict(max_epochs=6, val_interval=6)
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=2))
