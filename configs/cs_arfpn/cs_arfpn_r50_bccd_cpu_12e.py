# cs_arfpn_r50_bccd_cpu.py for twice the epochs, toward the BCCD anchors' test mAP@0.5 of 0.90
# from scratch: 12 epochs (1,236 iterations) with steps at 8 and 11, mmdet's 1x shape, the rest
# unchanged. Seed 0: 45 min at one thread (median step 2.11 s), test mAP 88.84 (README).
_base_ = ['./cs_arfpn_r50_bccd_cpu.py']

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=12, milestones=[8, 11], gamma=0.1),
]
train_cfg = dict(max_epochs=12, val_interval=6)
