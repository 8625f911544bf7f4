# PBC (pbc.py) with the cross-lab training recipe: scale and crop jitter (cells framed tighter
# or wider, as other labs crop them), Romanowsky stain jitter in optical density, RandStainNA's
# LAB statistics drawn around PBC's (3 times their spread: other labs' stains lie outside PBC's
# own), photometric jitter, blur and JPEG artefacts. pbc_stain_target.json is PBC's training
# split's stain target (tools/analysis_tools/fit_stain_target.py; refit it for other data).
# Test pipelines are unchanged; stain normalisation and re-framing at test time are options of
# the test configs and of tools/analysis_tools/cross_domain.py.
_base_ = './pbc.py'

stain_target = '{{fileDirname}}/pbc_stain_target.json'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale={{_base_.image_size}}, crop_ratio_range=(0.3, 1.0)),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='RandomStainJitter', concentration=0.3, shift=0.1, vector_std=0.05, prob=0.8),
    dict(type='RandomLabStats', target=stain_target, spread=3.0, prob=0.8),
    dict(type='ColorJitter', brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type='GaussianBlur', prob=0.3, magnitude_range=(0.1, 1.5)),
    dict(type='RandomJPEG', quality=(40, 95), prob=0.3),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
