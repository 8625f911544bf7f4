from .attention_units import ChannelAttentionUnit, ChannelSpatialAttentionUnit
from .conv_attention import ConvEmbed, ConvProjectionAttention, ConvTransformerBlock

__all__ = [
    'ChannelAttentionUnit', 'ChannelSpatialAttentionUnit', 'ConvEmbed', 'ConvProjectionAttention',
    'ConvTransformerBlock'
]
