# The quick start's classification run (`make demo`, tools/demo.py): cellvit_pbc.py with a short
# schedule (8 epochs, cosine decay, no warm-up), on PBC or on synthetic crops in its layout.
_base_ = ['./cellvit_pbc.py']

param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', by_epoch=True, T_max=8,
                       eta_min=1e-5, convert_to_iter_based=True)
train_cfg = dict(max_epochs=8, val_interval=4)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=4, save_best=None))
