# CellViT (Wang et al., 2023): ConvTokenViT (CvT-13 layout, no position embedding, CLS token in
# the last stage) + SparseAttentionHead (SE-weighted CLS attention of the first L-1 last-stage
# layers, one token per head, part layer) + cross-entropy and thresholded contrastive loss.
# Set model.head.num_classes in the config that uses it.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvTokenViT', arch='cvt-13', out_type='sparse_attention',
                  drop_path_rate=0.1),
    head=dict(
        type='SparseAttentionHead',
        num_classes=1000,
        in_channels=384,
        num_layers=9,  # the last stage's 10 layers minus the one the part layer replaces
        num_heads=6,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        contrastive_loss=dict(type='ThresholdedContrastiveLoss', threshold=0.4, loss_weight=1.0),
        topk=(1, ),
    ),
    train_cfg=None,  # no batch augments (_base_/recipes/pbc_from_scratch.py adds Mixup/CutMix)
)
