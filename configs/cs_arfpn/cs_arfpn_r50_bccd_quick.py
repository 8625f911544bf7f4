# The quick start's detection run (`make demo`, tools/demo.py): cs_arfpn_r50_bccd.py at half
# BCCD's resolution (320x240), batch 4, a short schedule from scratch (lr 0.01 after a 50-iteration
# warm-up, 6 epochs), on BCCD or on synthetic smears in its layout.
_base_ = ['./cs_arfpn_r50_bccd.py']

image_scale = (320, 240)
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=[
    dict(step, scale=image_scale) if step['type'] == 'Resize' else step
    for step in _base_.train_pipeline]))
val_dataloader = dict(dataset=dict(pipeline=[
    dict(step, scale=image_scale) if step['type'] == 'Resize' else step
    for step in _base_.test_pipeline]))
test_dataloader = val_dataloader  # the pipeline; the split stays the test split

optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=6, milestones=[5], gamma=0.1),
]
train_cfg = dict(max_epochs=6, val_interval=3)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=3, max_keep_ckpts=2))
