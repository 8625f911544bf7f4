# Table 3's first row on PBC at the quick budget: the ConvTokenViT-13 backbone with a plain CLS
# head (no sparse attention module, no contrastive loss).
_base_ = './cellvit_pbc_quick.py'

model = dict(
    backbone=dict(out_type='cls_token'),
    head=dict(_delete_=True, type='LinearClsHead', num_classes=8, in_channels=384,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
