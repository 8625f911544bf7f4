# Ablation (paper Table 3): the ConvTokenViT backbone with a plain CLS-token linear head, no
# sparse attention module, cross-entropy only; otherwise cellvit_munich.py.
_base_ = './cellvit_munich.py'

model = dict(
    backbone=dict(out_type='cls_token'),
    head=dict(_delete_=True, type='LinearClsHead', num_classes=10, in_channels=384,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
