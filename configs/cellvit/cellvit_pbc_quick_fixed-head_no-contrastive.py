# Table 3 on PBC at the quick budget: + the repaired sparse attention head, without the
# contrastive loss.
_base_ = './cellvit_pbc_quick_fixed-head.py'

model = dict(head=dict(contrastive_loss=None))
