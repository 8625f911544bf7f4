"""RoIPool on CPU for mmdet's RoI extractors: torchvision's kernels.

mmcv 2.1.0 (the last mmcv that mmdet 3.3.0 accepts) ships ``mmcv.ops.RoIPool`` with CUDA and MLU
kernels only; on CPU it raises. The detection paper compares RoIPool with RoIAlign (Table 6), so
without a GPU that row needs another kernel. mmdet's ``SingleRoIExtractor`` looks its layer up by
name in ``mmcv.ops`` (not in a registry), so :class:`TorchRoIExtractor` is that extractor with
``TorchRoIPool`` known by name too: ``mmcv.ops`` is left as it is.
"""
from typing import Tuple, Union

import torch
import torch.nn as nn
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from torch.nn.modules.utils import _pair
from torchvision.ops import roi_pool

__all__ = ['TorchRoIExtractor', 'TorchRoIPool']


class TorchRoIPool(nn.Module):
    """Max RoI pooling (Fast R-CNN) through ``torchvision.ops.roi_pool``.

    mmcv 2.1's ``RoIPool`` has no CPU kernel; this one has CPU and CUDA kernels and the same
    interface and rounding (box corners scaled by ``spatial_scale`` and rounded, bins of
    ``(size + 1) / output_size``, max over each bin). Use it through :class:`TorchRoIExtractor`:
    ``roi_layer=dict(type='TorchRoIPool', output_size=7)``.

    Args:
        output_size (int | tuple[int, int]): Pooled height and width.
        spatial_scale (float): Feature-map size over image size; the RoI extractor sets it
            per level. Defaults to 1.0.

    Example:
        >>> import torch
        >>> import mmcell
        >>> from mmdet.registry import MODELS
        >>> extractor = MODELS.build(dict(
        ...     type='TorchRoIExtractor', out_channels=16, featmap_strides=[4],
        ...     roi_layer=dict(type='TorchRoIPool', output_size=7)))
        >>> feats = (torch.randn(1, 16, 32, 32), )
        >>> rois = torch.tensor([[0., 8., 8., 72., 56.]])  # batch index, x1, y1, x2, y2
        >>> extractor(feats, rois).shape
        torch.Size([1, 16, 7, 7])
    """

    def __init__(self, output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0) -> None:
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)

    def forward(self, input: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """Pool ``rois`` (K, 5: batch index, x1, y1, x2, y2 in image pixels) from ``input``."""
        return roi_pool(input, rois.to(input.dtype), self.output_size, self.spatial_scale)

    def extra_repr(self):
        return f'output_size={self.output_size}, spatial_scale={self.spatial_scale}'


@MODELS.register_module()
class TorchRoIExtractor(SingleRoIExtractor):
    """mmdet's ``SingleRoIExtractor`` that also builds ``roi_layer=dict(type='TorchRoIPool')``.

    Other layer types are looked up in ``mmcv.ops`` as mmdet does; all arguments are
    ``SingleRoIExtractor``'s.

    Example:
        >>> import torch
        >>> import mmcell
        >>> from mmdet.registry import MODELS
        >>> extractor = MODELS.build(dict(
        ...     type='TorchRoIExtractor', out_channels=4, featmap_strides=[4, 8],
        ...     roi_layer=dict(type='TorchRoIPool', output_size=7)))
        >>> feats = (torch.randn(1, 4, 32, 32), torch.randn(1, 4, 16, 16))
        >>> extractor(feats, torch.tensor([[0., 8., 8., 72., 56.]])).shape
        torch.Size([1, 4, 7, 7])
    """

    def build_roi_layers(self, layer_cfg: dict, featmap_strides: list) -> nn.ModuleList:
        """The RoI layer per level; ``type='TorchRoIPool'`` is :class:`TorchRoIPool`."""
        cfg = dict(layer_cfg)
        if cfg.get('type') == 'TorchRoIPool':
            cfg['type'] = TorchRoIPool
        return super().build_roi_layers(cfg, featmap_strides)
