# The from-scratch recipe a practitioner would put on PBC's ~1,200 training crops (issue 21,
# item 4), the same for every model: scale jitter (RandomResizedCrop over half to all of the crop),
# the flips of _base_/datasets/pbc.py, mmpretrain's RandAugment (timm's increasing policy, two ops
# per image at magnitude 9 +- 0.5, as DeiT trains), Mixup (alpha 0.8) or CutMix (alpha 1.0) on
# each batch, label smoothing 0.1 and an exponential moving average of the weights (momentum
# 0.01: about the last 100 iterations, a quarter of the quick schedule). Mixup and CutMix give
# soft labels; ThresholdedContrastiveLoss takes them (a pair's label agreement is the dot product
# of its two score vectors).
#
# A config that uses it lists it beside its own base and takes the pieces by name, e.g.
# configs/cellvit/cellvit_pbc_quick_recipe.py:
#   _base_ = ['./cellvit_pbc_quick.py', '../_base_/recipes/pbc_from_scratch.py']
#   train_dataloader = dict(dataset=dict(pipeline={{_base_.recipe_train_pipeline}}))
#   model = dict(train_cfg={{_base_.recipe_batch_augments}},
#                head=dict(loss={{_base_.recipe_loss}}))
# The EMA hook comes in as custom_hooks.
recipe_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=128, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='PackInputs'),
]
# The light variant (the *_recipe-light.py configs, without Mixup/CutMix): the base's flips and
# RandAugment's mild stock policy (autocontrast, equalize, rotate, shear), no crop jitter.
recipe_light_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=128),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='RandAugment', policies='simple_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='PackInputs'),
]
# model.train_cfg: replaces the model's own (None for the baselines).
recipe_batch_augments = dict(_delete_=True,
                             augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)])
recipe_loss = dict(_delete_=True, type='LabelSmoothLoss', label_smooth_val=0.1, mode='original',
                   loss_weight=1.0)
custom_hooks = [dict(type='EMAHook', momentum=0.01, priority='ABOVE_NORMAL')]
