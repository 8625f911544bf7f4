# c_arfpn_r50_chula_cpu.py with the backbone's ResNet-50 weights from PBC, as in
# faster_rcnn_r50_fpn_chula_cpu_pbc-init.py (which says how to make them); the attention units
# start from scratch.
_base_ = ['./c_arfpn_r50_chula_cpu.py']

model = dict(
    backbone=dict(init_cfg=dict(
        _delete_=True,
        type='Pretrained', prefix='backbone.',
        checkpoint='{{$MMCELL_PBC_RESNET50:work_dirs/resnet50_pbc_quick/epoch_8.pth}}')))
