# efficientnet-lite0_pbc_test-bccd-wbc.py for the 192x192 model (efficientnet-lite0_pbc-192.py).
_base_ = ['./efficientnet-lite0_pbc-192.py']

test_dataloader = dict(dataset=dict(
    _delete_=True, type='BCCDWBCDataset', data_root='{{$MMCELL_DATA:data}}/bccd/',
    classes=_base_.classes,
    pipeline=_base_.test_pipeline[:1] + [dict(type='CropCell', context=1.9)] +
    _base_.test_pipeline[1:]))
