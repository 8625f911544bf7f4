from .contrastive_linear_head import ContrastiveLinearClsHead
from .sparse_attention_head import SparseAttentionHead, TokenSelection

__all__ = ['ContrastiveLinearClsHead', 'SparseAttentionHead', 'TokenSelection']
