from .attention_fpn import AttentionFPN

__all__ = ['AttentionFPN']
