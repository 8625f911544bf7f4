from .roi_pool import TorchRoIExtractor, TorchRoIPool

__all__ = ['TorchRoIExtractor', 'TorchRoIPool']
