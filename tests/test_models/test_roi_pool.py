"""TorchRoIPool: max pooling of RoIs on CPU, through mmcell's TorchRoIExtractor."""
import torch
from mmdet.registry import MODELS

import mmcell  # noqa: F401  (registers TorchRoIExtractor)


def test_max_pooling_by_hand():
    feat = torch.arange(64.).view(1, 1, 8, 8)
    from mmcell.models import TorchRoIPool
    pool = TorchRoIPool(output_size=2, spatial_scale=0.5)
    # Image box (0, 0)-(6, 6) -> feature cells 0..3 in both axes, bins {0,1} and {2,3}.
    out = pool(feat, torch.tensor([[0., 0., 0., 6., 6.]]))
    assert out.tolist() == [[[[9., 11.], [25., 27.]]]]


def test_mmdet_extractor_builds_and_pools_on_cpu():
    extractor = MODELS.build(dict(
        type='TorchRoIExtractor', roi_layer=dict(type='TorchRoIPool', output_size=7),
        out_channels=4, featmap_strides=[4, 8]))
    feats = (torch.randn(2, 4, 32, 32), torch.randn(2, 4, 16, 16))
    rois = torch.tensor([[0., 2., 2., 30., 30.], [1., 10., 10., 120., 100.]])
    out = extractor(feats, rois)
    assert out.shape == (2, 4, 7, 7)
    # The small box pools from the finest level: its maxima are values of that level.
    assert set(out[0].flatten().tolist()) <= set(feats[0][0].flatten().tolist())
