# The plain FPN baseline of the README's BCCD table, trained from scratch within a CPU budget:
# faster_rcnn_r50_fpn_bccd.py at 320x240 (half of BCCD's 640x480; platelets are still ~20 px,
# which the 32 px anchors cover) on the CPU schedule (_base_/schedules/cells_sgd_cpu.py: batch 2,
# lr 0.005 after a 100-iteration warm-up, 6 epochs with steps at 4 and 5), with backbone, neck,
# RPN head and box head in bf16 (AutocastModulesHook; mmcv's RoI ops, NMS and the losses stay
# float32): a CS-ARFPN step is 1.52x faster than in float32, against 1.22x with backbone and neck
# alone (tools/analysis_tools/autocast_step_time.py, one thread; configs/cs_arfpn/README).
# On a CPU without bf16 instructions, or for the float32 figures, set custom_hooks = []
# (--cfg-options custom_hooks=[]). cs_arfpn_r50_bccd_cpu.py is the same with the attention units.
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn_cells.py',
    '../_base_/datasets/bccd.py',
    '../_base_/schedules/cells_sgd_cpu.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(roi_head=dict(bbox_head=dict(num_classes=3)))
image_scale = (320, 240)
train_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                  for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                 for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
custom_hooks = [dict(type='AutocastModulesHook',
                     modules=('backbone', 'neck', 'rpn_head', 'roi_head.bbox_head'))]
