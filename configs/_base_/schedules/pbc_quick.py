# The short PBC schedule (quick start, open-set and cross-lab runs): pbc_cpu_budget.py cut to 8
# epochs with plain cosine decay and no warm-up, validation and checkpoints every 4 epochs.
_base_ = './pbc_cpu_budget.py'

param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', by_epoch=True, T_max=8,
                       eta_min=1e-5, convert_to_iter_based=True)
train_cfg = dict(max_epochs=8, val_interval=4)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=4, save_best=None))
