# cellvit_munich.py with class-balanced sampling: mmpretrain's ClassBalancedDataset repeats the
# images of classes rarer than `oversample_thr` (a fraction of the training set) so that they are
# seen about as often as that fraction. The alternative is offline augmentation
# (tools/dataset_converters/augment_rare_classes.py, as the paper does; see docs/data.md).
_base_ = './cellvit_munich.py'

train_dataloader = dict(dataset=dict(
    _delete_=True,
    type='ClassBalancedDataset',
    oversample_thr=0.1,
    dataset={{_base_.train_dataloader.dataset}}))
