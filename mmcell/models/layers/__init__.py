from .attention_units import ChannelAttentionUnit, ChannelSpatialAttentionUnit

__all__ = ['ChannelAttentionUnit', 'ChannelSpatialAttentionUnit']
