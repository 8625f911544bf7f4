import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS


@MODELS.register_module()
class ThresholdedContrastiveLoss(nn.Module):
    """Contrastive loss with a similarity threshold for negative pairs.

    Eq. 17 of Wang et al. (2023), as in TransFG (He et al., 2022). Features are L2-normalised and
    compared by cosine similarity over all ordered pairs of the batch, the diagonal included:

    * a pair with the same label costs ``1 - cos``;
    * a pair with different labels costs ``max(cos - threshold, 0)``, so dissimilar enough
      negatives cost nothing and the loss does not push every class apart;

    and the sum is divided by ``N ** 2`` for a batch of N.

    Args:
        threshold (float): The similarity threshold ``t_con`` for different-label pairs.
            Defaults to 0.4.
        loss_weight (float): Factor applied to the loss. Defaults to 1.0.
    """

    def __init__(self, threshold=0.4, loss_weight=1.0):
        super().__init__()
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f'threshold is a cosine similarity in [-1, 1], got {threshold}')
        self.threshold = threshold
        self.loss_weight = loss_weight

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            features (torch.Tensor): Features of shape (N, C) (or (N, ...), flattened).
            labels (torch.Tensor): Class indices of shape (N, ).

        Returns:
            torch.Tensor: The scalar loss.
        """
        if features.size(0) != labels.numel():
            raise ValueError(f'got {features.size(0)} features but {labels.numel()} labels')
        z = F.normalize(features.flatten(1).float(), dim=1)
        cos = z @ z.t()
        same = labels.view(-1, 1) == labels.view(1, -1)
        pair_loss = torch.where(same, 1 - cos, (cos - self.threshold).clamp(min=0))
        return self.loss_weight * pair_loss.sum() / labels.numel()**2

    def extra_repr(self):
        return f'threshold={self.threshold}, loss_weight={self.loss_weight}'
