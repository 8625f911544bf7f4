from .sparse_attention_head import SparseAttentionHead, TokenSelection

__all__ = ['SparseAttentionHead', 'TokenSelection']
