# Table 3 on pretrained tokens: the repaired sparse attention head (softmax gate over standardised
# descriptors, one distinct token per head; see cellvit_pbc_quick_fixed-head.py) with the
# contrastive loss.
_base_ = './cellvit-lite0-tokens_pbc.py'

model = dict(head=dict(gate='softmax', pick='distinct'))
