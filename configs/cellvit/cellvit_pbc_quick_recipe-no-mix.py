# cellvit_pbc_quick_recipe.py without Mixup and CutMix (hard labels again): the recipe's scale jitter,
# RandAugment, label smoothing and EMA alone, to tell what the batch mixing costs at 8 epochs.
_base_ = './cellvit_pbc_quick_recipe.py'

model = dict(train_cfg=None)
