# CellViT on pretrained convolutional tokens (PBC, 8 classes, 128x128): EfficientNet-Lite0 from
# its ImageNet weights up to stride 16 (112 channels, an 8x8 token grid: the grid of CvT-13's
# last stage at 128 px) as the token embedding, then CvT-13's last stage (a 1x1 conv embedding
# to 384 dims, 10 blocks, 6 heads; random init), the paper's sparse attention head and the
# thresholded contrastive loss (t = 0.4). Data, augmentation, schedule (AdamW 1e-3, 6 epochs)
# and input normalisation are those of the Lite0 row,
# ../efficientnet_lite/efficientnet-lite0_pbc.py.
#   MMCELL_DATA=../shared/data python tools/train.py configs/cellvit/cellvit-lite0-tokens_pbc.py
_base_ = ['../efficientnet_lite/efficientnet-lite0_pbc.py']

model = dict(
    backbone=dict(
        _delete_=True, type='ConvTokenViT', out_type='sparse_attention', drop_path_rate=0.1,
        arch=dict(embed_dims=[384], num_heads=[6], depths=[10], patch_sizes=[1], strides=[1],
                  paddings=[0]),
        img_size={{_base_.image_size}},
        token_stem=dict(type='EfficientNetLite', arch='lite0', out_indices=(5, ),
                        init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0'))),
    neck=None,
    head=dict(
        _delete_=True, type='SparseAttentionHead', num_classes=8, in_channels=384,
        num_layers=9,  # the stage's 10 layers minus the one the part layer replaces
        num_heads=6,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        contrastive_loss=dict(type='ThresholdedContrastiveLoss', threshold=0.4, loss_weight=1.0),
        topk=(1, )),
)
