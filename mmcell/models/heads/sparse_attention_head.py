from typing import List, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..backbones.conv_token_vit import SparseAttentionInputs
from ..losses import contrastive_targets


class TokenSelection(NamedTuple):
    """Which tokens the sparse attention module picked, and why.

    Attributes:
        indices (torch.Tensor): Picked token per head, (B, heads), indices into the H*W grid.
        keys (torch.Tensor): The key each head picked, (B, heads), indices into the Hk*Wk grid.
        attention (torch.Tensor): Aggregated CLS attention over the keys (CLS key excluded),
            (B, heads, Hk*Wk).
        layer_weights (torch.Tensor): Normalised SE weights of the layers, (B, L-1).
    """
    indices: torch.Tensor
    keys: torch.Tensor
    attention: torch.Tensor
    layer_weights: torch.Tensor


def distinct_keys(attention: torch.Tensor) -> torch.Tensor:
    """One key per head, no key twice in an image while keys last.

    The heads choose in turn, the one whose attention peaks highest first; each takes its
    most-attended key among those not yet taken.

    Args:
        attention (torch.Tensor): Aggregated attention, (B, heads, keys).

    Returns:
        torch.Tensor: The picked keys, (B, heads).

    Example:
        >>> attention = torch.tensor([[[0.1, 0.7, 0.2], [0.2, 0.6, 0.2]]])
        >>> distinct_keys(attention)  # both peak at key 1: the sharper head keeps it
        tensor([[1, 0]])
    """
    batch, heads, num_keys = attention.shape
    rows = torch.arange(batch, device=attention.device)
    order = attention.amax(dim=-1).argsort(dim=1, descending=True, stable=True)
    keys = torch.empty(batch, heads, dtype=torch.long, device=attention.device)
    taken = torch.zeros(batch, num_keys, dtype=torch.bool, device=attention.device)
    for rank in range(heads):
        if rank % num_keys == 0:  # more heads than keys: a new round over all keys
            taken.zero_()
        head = order[:, rank]
        key = attention[rows, head].masked_fill(taken, float('-inf')).argmax(dim=-1)
        keys[rows, head] = key
        taken[rows, key] = True
    return keys


@MODELS.register_module()
class SparseAttentionHead(ClsHead):
    """Sparse attention module and classifier of Wang et al. (2023), Sect. 3.3.

    From :class:`~mmcell.models.backbones.ConvTokenViT` with ``out_type='sparse_attention'``
    it takes the last-stage tokens before the last encoder layer and the CLS-row attention of
    the L-1 layers before it, and:

    1. weights the layers' attention per sample with a squeeze-excitation step (Eq. 14):
       a descriptor per layer, FC-ReLU-FC-sigmoid, weights normalised to sum 1 (``gate``
       below);
    2. per attention head, picks the token with the largest aggregated CLS attention (Eq. 15;
       ``pick`` below);
       with strided keys (k/v stride 2), a key stands for the token at the centre of its
       receptive field, ``(stride * row, stride * col)``;
    3. runs [CLS + picked tokens] through a standard transformer layer (linear projections; it
       stands in for the backbone's last layer), a LayerNorm and a linear classifier.

    The loss is cross-entropy plus, if configured, :class:`ThresholdedContrastiveLoss` on the
    final CLS feature (Eq. 16).

    The squeeze: the paper global-average-pools the attention maps, but a softmax row sums to 1,
    so that average is ``1 / num_keys`` for every layer and every input and the SE step sees a
    constant (``squeeze='mean'`` keeps that literal reading). The default ``squeeze='peak'``
    describes each layer by how concentrated its CLS attention is (the largest weight on a
    patch key, averaged over heads), which varies with the input, so the layer weights do too.

    The excitation: the paper's ``gate='sigmoid'`` (FC-ReLU-FC-sigmoid, weights normalised to
    sum 1) starts, with the head's small initialisation, at ``sigmoid(0) = 0.5`` for every layer,
    and its normalised weights stay within a few 1e-4 of ``1 / (L-1)`` for every input after
    training (measured on PBC). ``gate='softmax'`` standardises the descriptors across the layers
    of each image (so the FC layers see which layers are more concentrated than the others, not
    the absolute scale, which shrinks with the number of keys), gives the excitation PyTorch's
    default initialisation, and normalises with a softmax: the layer weights differ between
    inputs from the start.

    The pick: ``pick='argmax'`` (Eq. 15) gives each head its most-attended key, and heads whose
    aggregated attention peaks at the same key pick the same token. ``pick='distinct'`` lets the
    heads choose in turn, the one with the highest peak first, each the most-attended key not
    yet taken in that image, so the part layer sees as many different tokens as there are heads
    (while keys last).

    The pick has no gradient. So that the SE step and the attention still learn from
    the classification loss, each picked token is multiplied by ``w / w.detach()``, with ``w``
    its aggregated attention: 1 in the forward pass, and a straight-through gradient that raises
    the attention of tokens that help.

    Args:
        num_classes (int): Classes.
        in_channels (int): Token channels of the backbone's last stage.
        num_layers (int): L-1, the backbone layers whose attention is aggregated (the last
            stage's depth minus one: 9 for CvT-13).
        num_heads (int): Heads of the part layer. Defaults to 6.
        squeeze (str): ``'peak'`` or ``'mean'`` (see above). Defaults to ``'peak'``.
        gate (str): ``'sigmoid'`` or ``'softmax'`` (see above). Defaults to ``'sigmoid'``.
        pick (str): ``'argmax'`` or ``'distinct'`` (see above). Defaults to ``'argmax'``.
        se_ratio (float): Hidden width of the SE step over ``num_layers``. Defaults to 0.5.
        mlp_ratio (float): MLP width of the part layer over ``in_channels``. Defaults to 4.
        drop_rate (float): Dropout in the part layer. Defaults to 0.
        loss (dict): Classification loss. Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
        contrastive_loss (dict | nn.Module, optional): Loss on the final CLS feature, e.g.
            ``dict(type='ThresholdedContrastiveLoss', threshold=0.4)``. Defaults to None.
        init_cfg (dict | list[dict]): Defaults to truncated normal (std 0.02) for Linear layers.
        **kwargs: Other arguments of mmpretrain's ``ClsHead`` (``topk``, ``cal_acc``).

    Example:
        >>> import torch
        >>> import mmcell  # registers the backbone and the head in mmpretrain's MODELS
        >>> from mmpretrain.registry import MODELS
        >>> from mmpretrain.structures import DataSample
        >>> arch = dict(embed_dims=[16, 32], num_heads=[1, 2], depths=[1, 3],
        ...             patch_sizes=[7, 3], strides=[4, 2], paddings=[2, 1])
        >>> backbone = MODELS.build(dict(type='ConvTokenViT', arch=arch,
        ...                              out_type='sparse_attention'))
        >>> head = MODELS.build(dict(
        ...     type='SparseAttentionHead', num_classes=3, in_channels=32, num_layers=2,
        ...     num_heads=2, contrastive_loss=dict(type='ThresholdedContrastiveLoss')))
        >>> feats = backbone(torch.rand(2, 3, 64, 64))
        >>> head(feats).shape
        torch.Size([2, 3])
        >>> # One token per attention head, picked from the 8x8 grid by 4x4 strided keys.
        >>> selection = head.select(feats[-1])
        >>> selection.indices.shape, selection.attention.shape, selection.layer_weights.shape
        (torch.Size([2, 2]), torch.Size([2, 2, 16]), torch.Size([2, 2]))
        >>> sorted(head.loss(feats, [DataSample().set_gt_label(label) for label in (0, 2)]))
        ['loss', 'loss_contrastive']
    """

    SQUEEZES = ('peak', 'mean')
    GATES = ('sigmoid', 'softmax')
    PICKS = ('argmax', 'distinct')

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 num_layers: int,
                 num_heads: int = 6,
                 squeeze: str = 'peak',
                 gate: str = 'sigmoid',
                 pick: str = 'argmax',
                 se_ratio: float = 0.5,
                 mlp_ratio: float = 4.,
                 drop_rate: float = 0.,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 contrastive_loss: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='TruncNormal', layer='Linear', std=.02, bias=0.),
                 **kwargs) -> None:
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        if squeeze not in self.SQUEEZES:
            raise ValueError(f'squeeze must be one of {self.SQUEEZES}, got {squeeze!r}')
        if gate not in self.GATES:
            raise ValueError(f'gate must be one of {self.GATES}, got {gate!r}')
        if pick not in self.PICKS:
            raise ValueError(f'pick must be one of {self.PICKS}, got {pick!r}')
        if num_classes < 1 or num_layers < 1:
            raise ValueError(f'num_classes and num_layers must be positive, got {num_classes}, '
                             f'{num_layers}')
        self.num_classes = num_classes
        self.num_layers = num_layers
        self.squeeze = squeeze
        self.gate = gate
        self.pick = pick
        hidden = max(1, round(num_layers * se_ratio))
        self.excitation = nn.Sequential(
            nn.Linear(num_layers, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_layers),
            *([nn.Sigmoid()] if gate == 'sigmoid' else []))
        self.part_layer = TransformerEncoderLayer(
            in_channels, num_heads, int(in_channels * mlp_ratio), drop_rate=drop_rate,
            qkv_bias=True)
        self.part_norm = nn.LayerNorm(in_channels)
        self.fc = nn.Linear(in_channels, num_classes)
        self.contrastive_loss = (
            MODELS.build(contrastive_loss) if isinstance(contrastive_loss, dict) else
            contrastive_loss)

    def init_weights(self) -> None:
        """The configured initialisation; with ``gate='softmax'``, PyTorch's for the excitation
        (which a checkpoint loaded afterwards replaces)."""
        super().init_weights()
        if self.gate == 'softmax':
            for layer in self.excitation:
                if isinstance(layer, nn.Linear):
                    layer.reset_parameters()

    def layer_weights(self, cls_attention: torch.Tensor) -> torch.Tensor:
        """The SE step (Eq. 14): the layers' weights, (B, L-1), each row summing to 1."""
        descriptors = self.layer_descriptors(cls_attention)
        if self.gate == 'sigmoid':
            weights = self.excitation(descriptors)
            return weights / weights.sum(dim=1, keepdim=True)
        centred = descriptors - descriptors.mean(dim=1, keepdim=True)
        # eps inside the root: equal layers (or one layer) give 0, with finite gradients
        standard = centred * torch.rsqrt(centred.square().mean(dim=1, keepdim=True) + 1e-12)
        return self.excitation(standard).softmax(dim=1)

    def _inputs(self, feats: Tuple[SparseAttentionInputs, ...]) -> SparseAttentionInputs:
        inputs = feats[-1]
        if not isinstance(inputs, SparseAttentionInputs):
            raise TypeError('SparseAttentionHead needs the tokens and attention of '
                            "ConvTokenViT(out_type='sparse_attention'), got "
                            f'{type(inputs).__name__}')
        if inputs.cls_attention.size(1) != self.num_layers:
            raise ValueError(f'SparseAttentionHead was built for num_layers={self.num_layers} '
                             f'but the backbone gives the attention of '
                             f'{inputs.cls_attention.size(1)} layers')
        return inputs

    def layer_descriptors(self, cls_attention: torch.Tensor) -> torch.Tensor:
        """The squeeze: one number per layer, (B, L-1), from (B, L-1, heads, 1 + keys)."""
        if self.squeeze == 'mean':
            return cls_attention.mean(dim=(2, 3))
        return cls_attention[..., 1:].amax(dim=-1).mean(dim=-1)

    def select(self, inputs: SparseAttentionInputs) -> TokenSelection:
        """Pick one token per head.

        Args:
            inputs (SparseAttentionInputs): The backbone's output.

        Returns:
            TokenSelection: The picked token indices, the aggregated attention and the layer
            weights.
        """
        weights = self.layer_weights(inputs.cls_attention)
        attention = torch.einsum('bl,blhk->bhk', weights, inputs.cls_attention[..., 1:])
        keys = attention.argmax(dim=-1) if self.pick == 'argmax' else distinct_keys(attention)
        (h, w), (hk, wk) = inputs.grid, inputs.key_grid
        stride_h, stride_w = -(-h // hk), -(-w // wk)
        rows = (keys // wk * stride_h).clamp(max=h - 1)
        cols = (keys % wk * stride_w).clamp(max=w - 1)
        return TokenSelection(rows * w + cols, keys, attention, weights)

    def pre_logits(self, feats: Tuple[SparseAttentionInputs, ...]) -> torch.Tensor:
        """The final CLS feature, (B, C)."""
        inputs = self._inputs(feats)
        selection = self.select(inputs)
        cls, patches = inputs.tokens[:, :1], inputs.tokens[:, 1:]
        index = selection.indices.unsqueeze(-1).expand(-1, -1, patches.size(-1))
        picked = patches.gather(1, index)
        strength = selection.attention.gather(-1, selection.keys.unsqueeze(-1))
        picked = picked * (strength / strength.detach().clamp_min(1e-12))  # straight-through
        x = self.part_layer(torch.cat([cls, picked], dim=1))
        return self.part_norm(x)[:, 0]

    def forward(self, feats: Tuple[SparseAttentionInputs, ...]) -> torch.Tensor:
        """Class scores (B, num_classes) from the backbone's output."""
        return self.fc(self.pre_logits(feats))

    def loss(self, feats: Tuple[SparseAttentionInputs, ...], data_samples: List[DataSample],
             **kwargs) -> dict:
        """Cross-entropy, accuracy if ``cal_acc``, and the contrastive loss if configured."""
        feature = self.pre_logits(feats)
        losses = self._get_loss(self.fc(feature), data_samples, **kwargs)
        if self.contrastive_loss is not None:
            labels = contrastive_targets(data_samples)
            losses['loss_contrastive'] = self.contrastive_loss(feature, labels)
        return losses
