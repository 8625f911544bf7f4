# faster_rcnn_r50_fpn_chula_cpu.py with its ResNet-50 started from a cell classifier instead of
# from scratch (ImageNet weights cannot be downloaded here): mmpretrain's ResNet-50 trained on
# PBC's eight white-cell classes (another lab, 128x128; configs/baselines/resnet50_pbc_quick.py).
# Train that first, then this:
#   python tools/train.py configs/baselines/resnet50_pbc_quick.py --amp
# $MMCELL_PBC_RESNET50 names another checkpoint of it. Only the backbone is loaded (FPN, RPN and
# box head start from scratch); BN stays trainable, since Chula's stain is not PBC's.
_base_ = ['./faster_rcnn_r50_fpn_chula_cpu.py']

model = dict(
    backbone=dict(init_cfg=dict(
        _delete_=True,
        type='Pretrained', prefix='backbone.',
        checkpoint='{{$MMCELL_PBC_RESNET50:work_dirs/resnet50_pbc_quick/epoch_8.pth}}')))
