from typing import Tuple

from mmdet.models.necks import FPN
from mmdet.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class AttentionFPN(FPN):
    """FPN whose output levels pass through channel + spatial attention (CS-ARU).

    A drop-in for mmdet's :class:`~mmdet.models.necks.FPN`: the same arguments, the same
    ``num_outs`` outputs of ``out_channels`` channels, and the same parameter names for the FPN
    part, so FPN weights load into it (the attention units then start from their own init).

    Where: each output level (P2-P5 and the extra levels) is rescaled by its own attention unit
    after the 3x3 output conv, that is, right where the RPN and the RoI extractor read it.
    Why: red cells are small, crowded objects; the fused pyramid features mix them with plasma
    and neighbours. Reweighting channels and positions at that point sharpens the maps the heads
    see (Song et al., 2021, Fig. 7 shows the attended P2-P4 maps) while the top-down fusion
    itself stays plain FPN, and it costs one small unit per level.

    Args:
        attention_cfg (dict): The attention unit to build per level, without ``in_channels``.
            Defaults to ``dict(type='ChannelSpatialAttentionUnit', ratio=16)``.
        **kwargs: Arguments of :class:`~mmdet.models.necks.FPN` (``in_channels``,
            ``out_channels``, ``num_outs``, ``start_level``, ``add_extra_convs``, ...).

    Example:
        >>> import torch
        >>> import mmcell  # registers AttentionFPN in mmdet's MODELS
        >>> from mmdet.registry import MODELS
        >>> in_channels = [8, 16, 32, 64]
        >>> neck = MODELS.build(dict(type='AttentionFPN', in_channels=in_channels,
        ...                          out_channels=16, num_outs=5)).eval()
        >>> inputs = [torch.rand(1, c, 64 // 2**i, 64 // 2**i) for i, c in enumerate(in_channels)]
        >>> outputs = neck(inputs)
        >>> for i, out in enumerate(outputs):
        ...     print(f'outputs[{i}].shape = {out.shape}')
        outputs[0].shape = torch.Size([1, 16, 64, 64])
        outputs[1].shape = torch.Size([1, 16, 32, 32])
        outputs[2].shape = torch.Size([1, 16, 16, 16])
        outputs[3].shape = torch.Size([1, 16, 8, 8])
        outputs[4].shape = torch.Size([1, 16, 4, 4])
        >>> len(neck.attentions), type(neck.attentions[0]).__name__
        (5, 'ChannelSpatialAttentionUnit')
    """

    def __init__(self,
                 *args,
                 attention_cfg: dict = dict(type='ChannelSpatialAttentionUnit', ratio=16),
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.attentions = nn.ModuleList(
            MODELS.build(dict(attention_cfg, in_channels=self.out_channels))
            for _ in range(self.num_outs))

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        """FPN's outputs, each rescaled by its level's attention unit."""
        outs = super().forward(inputs)
        return tuple(attention(out) for attention, out in zip(self.attentions, outs))
