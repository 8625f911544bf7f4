"""Registration of mmcell's image transforms in both pipelines' registries."""
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmpretrain.registry import TRANSFORMS as MMPRETRAIN_TRANSFORMS

__all__ = ['register_transform']


def register_transform(cls: type) -> type:
    """Register a transform in mmpretrain's and mmdet's ``TRANSFORMS`` (a class decorator).

    The colour and framing transforms touch only ``results['img']``, so they are the same in a
    classification and a detection pipeline.
    """
    MMPRETRAIN_TRANSFORMS.register_module(module=cls)
    MMDET_TRANSFORMS.register_module(module=cls)
    return cls
