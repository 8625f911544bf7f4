# Faster R-CNN with an ImageNet-pretrained EfficientNet-Lite0 and a 128-channel FPN on BCCD (RBC,
# WBC, Platelets; official splits), sized for a CPU: the model
# (_base_/models/faster_rcnn_lite0_fpn_cells.py) fine-tuned with AdamW for 12 epochs
# (_base_/schedules/cells_adamw_pretrained.py), neck, RPN head and box head in bf16 with
# channels-last weights (AutocastModulesHook; on a CPU without bf16 instructions set
# custom_hooks = []). Input 480x360 (BCCD's 640x480 fields at 0.75): platelets are ~30 px there
# (39 px median at 640x480, 5% under 30), still matched by the 32 px smallest anchor.
# Measured (configs/lite_fpn/README.md): 1.6 s a training step at one thread, about 35 min for
# training, validation and test; a 640x480 field in 0.28-0.31 s at two threads (CS-ARFPN R50,
# float32: 1.46 s).
_base_ = [
    '../_base_/models/faster_rcnn_lite0_fpn_cells.py',
    '../_base_/datasets/bccd.py',
    '../_base_/schedules/cells_adamw_pretrained.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(roi_head=dict(bbox_head=dict(num_classes=3)))
image_scale = (480, 360)
train_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                  for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                 for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
