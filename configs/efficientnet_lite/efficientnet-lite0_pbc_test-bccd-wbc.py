# Test a PBC-trained EfficientNet-Lite0 (any 128x128 config of this folder) unchanged on a second
# lab's white cells: BCCD's 341 singly labelled white cells (BCCDWBCDataset), each cropped as the
# smear pipeline crops it (CropCell, a square 1.9 times the box), in PBC's 8-class label space.
#   python tools/test.py configs/efficientnet_lite/efficientnet-lite0_pbc_test-bccd-wbc.py CHECKPOINT
_base_ = ['./efficientnet-lite0_pbc.py']

test_dataloader = dict(dataset=dict(
    _delete_=True, type='BCCDWBCDataset', data_root='{{$MMCELL_DATA:data}}/bccd/',
    classes=_base_.classes,
    pipeline=_base_.test_pipeline[:1] + [dict(type='CropCell', context=1.9)] +
    _base_.test_pipeline[1:]))
