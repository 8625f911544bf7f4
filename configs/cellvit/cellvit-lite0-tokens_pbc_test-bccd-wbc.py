# Test a PBC-trained CellViT on pretrained tokens (cellvit-lite0-tokens_pbc.py) unchanged on a
# second lab's white cells: BCCD's 341 singly labelled white cells, cropped as the smear pipeline
# crops them, in PBC's 8-class label space (as
# ../efficientnet_lite/efficientnet-lite0_pbc_test-bccd-wbc.py).
#   python tools/test.py configs/cellvit/cellvit-lite0-tokens_pbc_test-bccd-wbc.py CHECKPOINT
_base_ = ['./cellvit-lite0-tokens_pbc.py']

test_dataloader = dict(dataset=dict(
    _delete_=True, type='BCCDWBCDataset', data_root='{{$MMCELL_DATA:data}}/bccd/',
    classes=_base_.classes,
    pipeline=_base_.test_pipeline[:1] + [dict(type='CropCell', context=1.9)] +
    _base_.test_pipeline[1:]))
