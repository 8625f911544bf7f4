# efficientnet-lite0_pbc.py at 192x192 (2.25 times the pixels of 128x128): more of a cell's granules
# and chromatin survive the resize of PBC's 360x363 crops.
_base_ = ['./efficientnet-lite0_pbc.py']

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
