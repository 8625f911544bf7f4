# CellViT as the paper builds it at the 25-epoch CPU budget (cellvit_pbc.py)
# with the from-scratch recipe of _base_/recipes/pbc_from_scratch.py (RandAugment, Mixup/CutMix,
# label smoothing, EMA), applied alike to every model of the recipe table.
_base_ = ['./cellvit_pbc.py', '../_base_/recipes/pbc_from_scratch.py']

train_dataloader = dict(dataset=dict(pipeline={{_base_.recipe_train_pipeline}}))
model = dict(train_cfg={{_base_.recipe_batch_augments}},
             head=dict(loss={{_base_.recipe_loss}}))
