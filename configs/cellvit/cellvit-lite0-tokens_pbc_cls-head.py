# Table 3 on pretrained tokens, its first hybrid row: Lite0 tokens and the transformer stage with
# a plain CLS head (the final CLS token, a linear classifier): no sparse attention, no
# contrastive loss.
_base_ = './cellvit-lite0-tokens_pbc.py'

model = dict(
    backbone=dict(out_type='cls_token'),
    head=dict(_delete_=True, type='LinearClsHead', num_classes=8, in_channels=384,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )),
)
