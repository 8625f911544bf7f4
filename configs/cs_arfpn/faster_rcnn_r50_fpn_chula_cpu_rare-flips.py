# faster_rcnn_r50_fpn_chula_cpu.py trained on the detection paper's rare-class
# augmentation: a horizontally flipped copy of every training field holding a rare class, from
# tools/dataset_converters/tile_smears.py with one 640x480 tile per field (Chula's fields are
# about the paper's 500x375 tiles already). Rare: under 5% of the training boxes each. Make them
# after the split of configs/_base_/datasets/chula_rbc12.py with
#   python tools/dataset_converters/tile_smears.py \
#       --coco work_dirs/data/chula_rbc12/annotations_train.json \
#       --img-dir $MMCELL_DATA/chula_rbc12 --out work_dirs/data/chula_rbc12_flips --format coco \
#       --tile-size 480 640 --overlap 0 --flip-classes macrocyte microcyte teardrop \
#       'burr cell' schistocyte uncategorised elliptocyte
# (175 fields -> 320 images at seed 0). The baseline's 1,044 iterations of batch 2 (12 epochs of
# 174 fields), steps at the same iterations: the copies change what is drawn, not how much is
# trained. Validation and test read the original fields.
_base_ = ['./faster_rcnn_r50_fpn_chula_cpu.py']

flips = '{{$MMCELL_CHULA_FLIPS:work_dirs/data/chula_rbc12_flips}}'
train_dataloader = dict(dataset=dict(ann_file=f'{flips}/annotations.json',
                                     data_prefix=dict(img=f'{flips}/images/')))
iterations = 12 * 87
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=iterations,
                 val_interval=iterations // 2)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=iterations,
         milestones=[8 * 87, 11 * 87], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2 * 87))
log_processor = dict(by_epoch=False)
