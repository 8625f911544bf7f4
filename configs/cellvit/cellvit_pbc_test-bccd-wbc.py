# Test a PBC-trained CellViT (cellvit_pbc.py or cellvit_pbc_quick.py: same model and pipeline)
# unchanged on a second lab's white cells: the 341 BCCD images with one WBC box and one subtype
# (BCCDWBCDataset), each cropped as the smear pipeline crops white cells (CropCell: a square 1.9
# times the box), in PBC's 8-class label space (BCCD holds neutrophil, eosinophil, lymphocyte,
# monocyte and basophil). Training settings are those of cellvit_pbc.py; only the test set differs.
#   python tools/test.py configs/cellvit/cellvit_pbc_test-bccd-wbc.py CHECKPOINT
_base_ = ['./cellvit_pbc.py']

test_dataloader = dict(dataset=dict(
    _delete_=True, type='BCCDWBCDataset', data_root='{{$MMCELL_DATA:data}}/bccd/',
    classes=_base_.classes,
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='CropCell', context=1.9),
        dict(type='Resize', scale=_base_.image_size),
        dict(type='PackInputs'),
    ]))
