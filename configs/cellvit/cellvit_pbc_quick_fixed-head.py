# CellViT on PBC at the quick budget with the repaired sparse attention head: the SE gate over
# standardised descriptors with a softmax, and one distinct token per head (see the README's
# "Does the sparse attention head select?"); the contrastive loss as in cellvit_pbc_quick.py.
_base_ = './cellvit_pbc_quick.py'

model = dict(head=dict(gate='softmax', pick='distinct'))
