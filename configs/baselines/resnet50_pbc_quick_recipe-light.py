# resnet50_pbc_quick_recipe.py made light: the base's flips and RandAugment's mild policy (no crop jitter, no
# colour inversion or translation), label smoothing and EMA, no Mixup/CutMix.
_base_ = './resnet50_pbc_quick_recipe.py'

train_dataloader = dict(dataset=dict(pipeline={{_base_.recipe_light_train_pipeline}}))
model = dict(train_cfg=None)
