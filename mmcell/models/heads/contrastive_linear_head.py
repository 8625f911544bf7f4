from typing import List, Tuple

import torch
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..losses import contrastive_targets


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

    Example:
        >>> import torch
        >>> import mmcell  # registers the head in mmpretrain's MODELS
        >>> from mmpretrain.registry import MODELS
        >>> from mmpretrain.structures import DataSample
        >>> head = MODELS.build(dict(type='ContrastiveLinearClsHead', num_classes=3,
        ...                          in_channels=16))
        >>> feats = (torch.rand(4, 16), )  # e.g. a backbone's CLS token
        >>> head(feats).shape
        torch.Size([4, 3])
        >>> samples = [DataSample().set_gt_label(label) for label in (0, 1, 2, 0)]
        >>> losses = head.loss(feats, samples)
        >>> sorted(losses), losses['loss_contrastive'].shape
        (['loss', 'loss_contrastive'], torch.Size([]))
        >>> predictions = head.predict(feats)  # mmpretrain DataSamples
        >>> len(predictions), predictions[0].pred_score.shape
        (4, torch.Size([3]))
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 contrastive_loss: dict = dict(type='ThresholdedContrastiveLoss', threshold=0.4),
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, **kwargs)
        self.contrastive_loss = MODELS.build(contrastive_loss)

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        """Cross-entropy (or the configured ``loss``) and ``loss_contrastive``."""
        feature = self.pre_logits(feats)
        losses = self._get_loss(self.fc(feature), data_samples, **kwargs)
        labels = contrastive_targets(data_samples)
        losses['loss_contrastive'] = self.contrastive_loss(feature, labels)
        return losses
