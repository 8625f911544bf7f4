# Table 3 on PBC at the quick budget: + the sparse attention head as the paper describes it
# (sigmoid gate, argmax per head), without the contrastive loss.
_base_ = './cellvit_pbc_quick.py'

model = dict(head=dict(contrastive_loss=None))
