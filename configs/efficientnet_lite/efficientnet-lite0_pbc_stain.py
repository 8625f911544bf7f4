# efficientnet-lite0_pbc.py with the cross-lab stain recipe (../_base_/datasets/pbc_stain.py's
# steps), re-tuned for a pretrained start: at the strength that kept CellViT from learning when it
# started from random weights (stain and LAB-statistics jitter on 80% of the images at 1.5x the
# shipped strength, LAB spread 3x PBC's; crop area 0.4-1), since ImageNet features need no clean
# images to get going; plus the diagonal flips and colour jitter of the plain recipe.
_base_ = ['./efficientnet-lite0_pbc.py']

stain_target = '{{fileDirname}}/../_base_/datasets/pbc_stain_target.json'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale={{_base_.image_size}}, crop_ratio_range=(0.4, 1.0)),
    dict(type='RandomFlip', prob=[0.25, 0.25, 0.25],
         direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='RandomStainJitter', concentration=0.3, shift=0.1, vector_std=0.05, prob=0.8),
    dict(type='RandomLabStats', target=stain_target, spread=3.0, prob=0.8),
    dict(type='ColorJitter', brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type='GaussianBlur', prob=0.3, magnitude_range=(0.1, 1.5)),
    dict(type='RandomJPEG', quality=(40, 95), prob=0.3),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
