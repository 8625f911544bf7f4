# efficientnet-lite0_pbc_stain.py (the stain recipe) at 192x192, as efficientnet-lite0_pbc-192.py.
_base_ = ['./efficientnet-lite0_pbc_stain.py']

image_size = 192
train_pipeline = [
    dict(step, scale=image_size) if step['type'] == 'RandomResizedCrop' else step
    for step in _base_.train_pipeline
]
test_pipeline = [
    dict(step, scale=image_size) if step['type'] == 'Resize' else step
    for step in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
