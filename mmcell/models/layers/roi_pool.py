"""RoIPool that runs on CPU and GPU, for mmdet's RoI extractors."""
import mmcv.ops
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
    """

    def __init__(self, output_size, spatial_scale=1.0):
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)

    def forward(self, input, rois):
        """Pool ``rois`` (K, 5: batch index, x1, y1, x2, y2 in image pixels) from ``input``."""
        return roi_pool(input, rois.to(input.dtype), self.output_size, self.spatial_scale)

    def extra_repr(self):
        return f'output_size={self.output_size}, spatial_scale={self.spatial_scale}'


mmcv.ops.TorchRoIPool = TorchRoIPool
