from .conv_token_vit import ConvTokenViT, SparseAttentionInputs
from .csaru_resnet import CSARUResNet
from .efficientnet_lite import EfficientNetLite

__all__ = ['ConvTokenViT', 'CSARUResNet', 'EfficientNetLite', 'SparseAttentionInputs']
