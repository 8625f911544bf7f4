"""Mend: an RoIPool with a CPU kernel, under a name mmdet's RoI extractors find in ``mmcv.ops``.

Upstream: mmcv 2.1.0 (the last mmcv that mmdet 3.3.0 accepts) ships ``mmcv.ops.RoIPool`` with CUDA
and MLU kernels only; on CPU it raises. mmdet's ``BaseRoIExtractor.build_roi_layers`` looks the
layer type up with ``getattr(mmcv.ops, type)``, not in a registry.
Why: the detection paper compares RoIPool with RoIAlign (Table 6); without a GPU that row could not
run. :func:`install` adds :class:`TorchRoIPool` (torchvision's kernels) to ``mmcv.ops``.
When it can go: when mmcv's ``RoIPool`` has a CPU kernel in a version mmdet accepts, or mmdet
builds RoI layers through a registry (then register it there instead).
"""
from typing import Tuple, Union

import mmcv.ops
import torch
import torch.nn as nn
from torch.nn.modules.utils import _pair
from torchvision.ops import roi_pool


class TorchRoIPool(nn.Module):
    """Max RoI pooling (Fast R-CNN) through ``torchvision.ops.roi_pool``.

    mmcv 2.1's ``RoIPool`` has no CPU kernel; this one has CPU and CUDA kernels and the same
    interface and rounding (box corners scaled by ``spatial_scale`` and rounded, bins of
    ``(size + 1) / output_size``, max over each bin). mmdet's RoI extractors look RoI layers up by
    name in ``mmcv.ops``, so importing mmcell adds it there: use
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
        ...     type='mmdet.SingleRoIExtractor', out_channels=16, featmap_strides=[4],
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


def install_torch_roi_pool() -> None:
    """Make ``roi_layer=dict(type='TorchRoIPool', ...)`` buildable by mmdet's RoI extractors."""
    mmcv.ops.TorchRoIPool = TorchRoIPool
