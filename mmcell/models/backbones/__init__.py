from .conv_token_vit import ConvTokenViT, SparseAttentionInputs
from .csaru_resnet import CSARUResNet

__all__ = ['ConvTokenViT', 'CSARUResNet', 'SparseAttentionInputs']
