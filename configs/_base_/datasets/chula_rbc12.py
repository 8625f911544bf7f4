# Chula-RBC-12 (250 smear fields of 640x480 here; 12 red-cell types and "uncategorised", ~34 cells
# a field, mostly normal). Its labels are cell centres; make the boxes and the seeded image split
# (175 train / 38 val / 37 test at seed 0) once with
#   python tools/dataset_converters/chula_to_coco.py $MMCELL_DATA/chula_rbc12 \
#       work_dirs/data/chula_rbc12/annotations.json --split 0.7 0.15 0.15 --seed 0
# data_root is empty, so both paths are relative to the working directory: the images under
# $MMCELL_DATA/chula_rbc12 (default data/), the boxes under $MMCELL_CHULA_BOXES (default
# work_dirs/data/chula_rbc12, where the command above writes them).
# Native size: red cells are 38 px across (5-95%: 28-52 px), so the smallest keep 7 px on P2
# (stride 4) and match the 32 px smallest anchor; halving the image would leave them 14 px.
# CellCocoDataset is mmdet's CocoDataset labelling boxes by category name (mmdet's follows the
# file's category order) and naming a class the training split has no box of, at build time.
dataset_type = 'CellCocoDataset'
images = '{{$MMCELL_DATA:data}}/chula_rbc12/'
boxes = '{{$MMCELL_CHULA_BOXES:work_dirs/data/chula_rbc12}}/annotations'
metainfo = dict(classes=('normal cell', 'macrocyte', 'microcyte', 'spherocyte', 'target cell',
                         'stomatocyte', 'ovalocyte', 'teardrop', 'burr cell', 'schistocyte',
                         'uncategorised', 'hypochromia', 'elliptocyte'))
image_scale = (640, 480)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),  # after Resize: boxes stay in image pixels
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]


def _split(name, pipeline, **kwargs):
    return dict(type=dataset_type, data_root='', metainfo=metainfo,
                ann_file=f'{boxes}_{name}.json', data_prefix=dict(img=images),
                pipeline=pipeline, **kwargs)


train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=_split('train', train_pipeline, filter_cfg=dict(filter_empty_gt=True, min_size=8)),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=_split('val', test_pipeline, test_mode=True),
)
test_dataloader = dict(val_dataloader, dataset=_split('test', test_pipeline, test_mode=True))
val_evaluator = dict(type='VOCMetric', metric='mAP', eval_mode='area')
test_evaluator = val_evaluator
