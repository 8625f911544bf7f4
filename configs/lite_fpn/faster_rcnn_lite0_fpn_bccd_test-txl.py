# Tests a detector trained by faster_rcnn_lite0_fpn_bccd.py (or _bccd-txl.py) on every TXL-PBC
# source (its test split: Raabin-WBC and PBC crops, BCCD and Kaggle BCD fields), with the
# per-source report (SourceDetectionReport: AP50 per class, white-cell recall). TXL-PBC's test
# frames that are BCCD training or validation images are left out, so the bccd row is BCCD's
# test images only. Classes in BCCD's order, as the detector was trained.
#   MMCELL_DATA=../shared/data python tools/test.py \
#       configs/lite_fpn/faster_rcnn_lite0_fpn_bccd_test-txl.py CHECKPOINT
_base_ = ['./faster_rcnn_lite0_fpn_bccd.py']
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=_base_.image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),  # after Resize: boxes stay in image pixels
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'source',
                    'bccd_image')),
]
test_dataloader = dict(dataset=dict(
    _delete_=True, type='TXLPBCDataset', data_root='{{$MMCELL_DATA:data}}/txl_pbc/',
    split='test', exclude_bccd_splits=('train', 'val'), metainfo=_base_.metainfo,
    pipeline=test_pipeline, test_mode=True))
test_evaluator = [dict(type='VOCMetric', metric='mAP', eval_mode='area'),
                  dict(type='SourceDetectionReport', score_thr=0.5, iou_thr=0.5)]
