# Table 3 on pretrained tokens: the repaired sparse attention head without the contrastive loss.
_base_ = './cellvit-lite0-tokens_pbc_fixed-head.py'

model = dict(head=dict(contrastive_loss=None))
