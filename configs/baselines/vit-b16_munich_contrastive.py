# Baseline (paper Table 3): ViT-B/16 with the thresholded contrastive loss (t = 0.4) on its CLS
# feature added to cross-entropy, as CellViT trains.
_base_ = './vit-b16_munich.py'

model = dict(head=dict(type='ContrastiveLinearClsHead',
                       contrastive_loss=dict(type='ThresholdedContrastiveLoss', threshold=0.4,
                                             loss_weight=1.0)))
