# cs_arfpn_r50_bccd_cpu_12e.py for twice the epochs again, toward the BCCD anchors' test
# mAP@0.5 of 0.90 from scratch: 24 epochs (2,472 iterations) with steps at 16 and 22, mmdet's 2x
# shape, the rest unchanged (320x240, four parts in bf16).
_base_ = ['./cs_arfpn_r50_bccd_cpu_12e.py']

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=24, milestones=[16, 22], gamma=0.1),
]
train_cfg = dict(max_epochs=24, val_interval=12)
