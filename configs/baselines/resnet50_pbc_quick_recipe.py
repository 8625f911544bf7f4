# ResNet-50 on PBC at the quick budget (resnet50_pbc_quick.py, 8 epochs)
# with the from-scratch recipe of _base_/recipes/pbc_from_scratch.py (RandAugment, Mixup/CutMix,
# label smoothing, EMA), applied alike to every model of the recipe table.
_base_ = ['./resnet50_pbc_quick.py', '../_base_/recipes/pbc_from_scratch.py']

train_dataloader = dict(dataset=dict(pipeline={{_base_.recipe_train_pipeline}}))
model = dict(train_cfg={{_base_.recipe_batch_augments}},
             head=dict(loss={{_base_.recipe_loss}}))
