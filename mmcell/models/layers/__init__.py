from .attention_units import ChannelAttentionUnit, ChannelSpatialAttentionUnit
from .conv_attention import ConvEmbed, ConvProjectionAttention, ConvTransformerBlock
from .roi_pool import TorchRoIPool

__all__ = [
    'ChannelAttentionUnit', 'ChannelSpatialAttentionUnit', 'ConvEmbed', 'ConvProjectionAttention',
    'ConvTransformerBlock', 'TorchRoIPool'
]
