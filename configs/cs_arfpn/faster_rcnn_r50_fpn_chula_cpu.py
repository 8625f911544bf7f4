# faster_rcnn_r50_fpn_chula.py within a CPU budget: the same model and data at native 640x480,
# from scratch, on the detectors' CPU schedule (_base_/schedules/cells_sgd_cpu.py: batch 2,
# 6 epochs), with backbone and neck in bf16 (AutocastModulesHook; mmcv's RoI ops, NMS and the
# losses stay float32). On a CPU without bf16 instructions set custom_hooks = [] (float32).
# c_arfpn_r50_chula_cpu.py and cs_arfpn_r50_chula_cpu.py add the attention units.
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn_cells.py',
    '../_base_/datasets/chula_rbc12.py',
    '../_base_/schedules/cells_sgd_cpu.py',
]
custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)

model = dict(roi_head=dict(bbox_head=dict(num_classes=13)))
custom_hooks = [dict(type='AutocastModulesHook', modules=('backbone', 'neck'))]
