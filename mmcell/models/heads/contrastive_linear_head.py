import torch
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS


@MODELS.register_module()
class ContrastiveLinearClsHead(LinearClsHead):
    """mmpretrain's ``LinearClsHead`` plus a contrastive loss on the feature it classifies.

    Drops the thresholded contrastive loss of CellViT (Eq. 16-17) into any backbone that gives a
    feature vector (ViT's CLS token, a CNN's pooled features), for the paper's Table 3 rows
    "ViT + contrastive loss".

    Args:
        num_classes (int): Classes.
        in_channels (int): Feature channels.
        contrastive_loss (dict): The extra loss, called with (features, labels). Defaults to
            ``dict(type='ThresholdedContrastiveLoss', threshold=0.4)``.
        **kwargs: Other arguments of ``LinearClsHead`` (``loss``, ``topk``, ``init_cfg``...).
    """

    def __init__(self, num_classes, in_channels,
                 contrastive_loss=dict(type='ThresholdedContrastiveLoss', threshold=0.4),
                 **kwargs):
        super().__init__(num_classes, in_channels, **kwargs)
        self.contrastive_loss = MODELS.build(contrastive_loss)

    def loss(self, feats, data_samples, **kwargs):
        """Cross-entropy (or the configured ``loss``) and ``loss_contrastive``."""
        feature = self.pre_logits(feats)
        losses = self._get_loss(self.fc(feature), data_samples, **kwargs)
        labels = torch.cat([sample.gt_label for sample in data_samples])
        losses['loss_contrastive'] = self.contrastive_loss(feature, labels)
        return losses
