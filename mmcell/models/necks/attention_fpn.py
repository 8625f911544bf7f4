from mmdet.models.necks import FPN
from mmdet.registry import MODELS
from torch import nn


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
    """

    def __init__(self, *args, attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16),
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.attentions = nn.ModuleList(
            MODELS.build(dict(attention_cfg, in_channels=self.out_channels))
            for _ in range(self.num_outs))

    def forward(self, inputs):
        outs = super().forward(inputs)
        return tuple(attention(out) for attention, out in zip(self.attentions, outs))
