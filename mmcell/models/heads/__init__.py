from .contrastive_linear_head import ContrastiveLinearClsHead
from .sparse_attention_head import SparseAttentionHead, TokenSelection, distinct_keys

__all__ = ['ContrastiveLinearClsHead', 'SparseAttentionHead', 'TokenSelection', 'distinct_keys']
