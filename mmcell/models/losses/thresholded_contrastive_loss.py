from typing import List, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


def gather_batch(features: torch.Tensor,
                 labels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The whole batch of a data-parallel step: every process's features and labels, in rank
    order; this process's own rows keep their gradient, the others' are constants.

    Processes may hold different numbers of samples (the last batch of an epoch): each pads to
    the largest before the exchange.
    """
    world = dist.get_world_size()
    counts = [torch.zeros(1, dtype=torch.long) for _ in range(world)]
    dist.all_gather(counts, torch.tensor([labels.size(0)]))
    counts = [int(c) for c in counts]
    most = max(counts)
    pad = most - labels.size(0)
    gathered_feats = [features.new_empty(most, *features.shape[1:]) for _ in range(world)]
    gathered_labels = [labels.new_empty(most, *labels.shape[1:]) for _ in range(world)]
    dist.all_gather(gathered_feats, pad_rows(features.detach(), pad))
    dist.all_gather(gathered_labels, pad_rows(labels, pad))
    gathered_feats[dist.get_rank()] = features
    return (torch.cat([f[:n] for f, n in zip(gathered_feats, counts)]),
            torch.cat([t[:n] for t, n in zip(gathered_labels, counts)]))


def pad_rows(x: torch.Tensor, pad: int) -> torch.Tensor:
    """``x`` with ``pad`` rows of zeros appended along its first dimension."""
    return F.pad(x, (0, 0) * (x.dim() - 1) + (0, pad))


def contrastive_targets(data_samples: List[DataSample]) -> torch.Tensor:
    """The labels a contrastive loss compares: the samples' ``gt_score`` (N, C) where batch
    augments such as Mixup or CutMix have set one, else their ``gt_label`` (N, )."""
    if 'gt_score' in data_samples[0]:
        return torch.stack([sample.gt_score for sample in data_samples])
    return torch.cat([sample.gt_label for sample in data_samples])


@MODELS.register_module()
class ThresholdedContrastiveLoss(nn.Module):
    """Contrastive loss with a similarity threshold for negative pairs.

    Eq. 17 of Wang et al. (2023), as in TransFG (He et al., 2022). Features are L2-normalised and
    compared by cosine similarity over all ordered pairs of the batch, the diagonal included:

    * a pair with the same label costs ``1 - cos``;
    * a pair with different labels costs ``max(cos - threshold, 0)``, so dissimilar enough
      negatives cost nothing and the loss does not push every class apart;

    and the sum is divided by ``N ** 2`` for a batch of N.

    Labels may also be soft, (N, C) scores as Mixup and CutMix make: a pair then costs
    ``s * (1 - cos) + (1 - s) * max(cos - threshold, 0)`` with ``s`` the dot product of the two
    score vectors, the chance that the two share a class if each draws its class from its
    scores. One-hot scores give the hard-label loss exactly.

    In data-parallel training the loss is taken over the whole batch, all processes' samples
    together, so that its value and its gradient do not depend on how the batch is split: two
    processes with 16 images each train as one with 32 (the paper trains on one GPU). Each
    process differentiates only through its own features and DDP averages the gradients over
    the processes, so the gradient is scaled by the number of processes to undo that average.

    Args:
        threshold (float): The similarity threshold ``t_con`` for different-label pairs.
            Defaults to 0.4.
        loss_weight (float): Factor applied to the loss. Defaults to 1.0.
        across_processes (bool): In distributed training, take the loss over every process's
            samples (above). False: over this process's samples only, as TransFG does, which
            makes the loss depend on the number of processes. Defaults to True.

    Example:
        >>> import torch
        >>> import mmcell  # registers the loss in mmpretrain's MODELS
        >>> from mmpretrain.registry import MODELS
        >>> loss = MODELS.build(dict(type='ThresholdedContrastiveLoss', threshold=0.4))
        >>> features = torch.tensor([[1., 0.], [1., 0.], [0., 1.]])
        >>> # Same-label pairs identical, negatives orthogonal (cos 0 < threshold): no loss.
        >>> loss(features, torch.tensor([0, 0, 1]))
        tensor(0.)
        >>> # Two identical features with different labels cost 2 * (1 - 0.4), two orthogonal
        >>> # ones with the same label 2 * (1 - 0); over 3 ** 2 pairs: 3.2 / 9.
        >>> loss(features, torch.tensor([0, 1, 1]))
        tensor(0.3556)
    """

    def __init__(self,
                 threshold: float = 0.4,
                 loss_weight: float = 1.0,
                 across_processes: bool = True) -> None:
        super().__init__()
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f'threshold is a cosine similarity in [-1, 1], got {threshold}')
        self.threshold = threshold
        self.loss_weight = loss_weight
        self.across_processes = across_processes

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            features (torch.Tensor): Features of shape (N, C) (or (N, ...), flattened).
            labels (torch.Tensor): Class indices of shape (N, ), or class scores of shape
                (N, C) whose rows sum to 1.

        Returns:
            torch.Tensor: The scalar loss.
        """
        soft = labels.dim() == 2
        if labels.dim() > 2:
            raise ValueError(f'labels are class indices (N, ) or scores (N, C), got shape '
                             f'{tuple(labels.shape)}')
        if features.size(0) != labels.size(0):
            raise ValueError(f'got {features.size(0)} features but {labels.size(0)} labels')
        features = features.flatten(1)
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        spread = self.across_processes and world > 1 and self.training
        if spread:
            features, labels = gather_batch(features, labels)
        z = F.normalize(features.float(), dim=1)
        cos = z @ z.t()
        if soft:
            scores = labels.float()
            same = scores @ scores.t()
        else:
            same = (labels.view(-1, 1) == labels.view(1, -1)).float()
        pair_loss = same * (1 - cos) + (1 - same) * (cos - self.threshold).clamp(min=0)
        loss = self.loss_weight * pair_loss.sum() / labels.size(0)**2
        if spread:  # the value stays the loss; the gradient is multiplied by the process count
            loss = loss + (world - 1) * (loss - loss.detach())
        return loss

    def extra_repr(self) -> str:
        return (f'threshold={self.threshold}, loss_weight={self.loss_weight}, '
                f'across_processes={self.across_processes}')
