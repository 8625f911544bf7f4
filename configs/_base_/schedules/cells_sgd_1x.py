# The detection paper's optimiser on mmdet's 1x schedule (12 epochs, steps at 8 and 11): SGD with
# momentum 0.9 and weight decay 1e-4, lr for batch 2 on one device (mmdet's 0.02 is for 16 images).
_base_ = ['mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py']

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.0025, momentum=0.9, weight_decay=1e-4))
auto_scale_lr = dict(enable=False, base_batch_size=2)
default_hooks = dict(logger=dict(interval=10))
