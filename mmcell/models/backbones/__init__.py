from .csaru_resnet import CSARUResNet

__all__ = ['CSARUResNet']
