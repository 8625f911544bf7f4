# Table 3 on pretrained tokens: the paper's sparse attention head (sigmoid gate, argmax per head)
# without the contrastive loss.
_base_ = './cellvit-lite0-tokens_pbc.py'

model = dict(head=dict(contrastive_loss=None))
