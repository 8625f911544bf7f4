"""Parameters and FLOPs of a config's model at a given input size.

FLOPs are counted by mmengine's jit-based FlopAnalyzer, one multiply-add as one FLOP (as
mmpretrain and fvcore report them), with a handle for ``scaled_dot_product_attention`` (which
mmengine does not count): Q @ K^T and attention @ V, 2 * B * heads * Nq * Nk * head_dims.

The model is built as :func:`mmcell.apis.build_model` builds it, without initialising its
weights (the counts do not depend on them, and a ``Pretrained`` init_cfg is not read).

Examples:
    python tools/analysis_tools/get_flops.py configs/cellvit_munich.py --shape 224
    python tools/analysis_tools/get_flops.py configs/cs_arfpn_r50_bccd.py --shape 480 640
"""
import argparse

import torch
from mmdet.models.detectors import BaseDetector
from mmdet.structures import DetDataSample
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape

from mmcell.apis import build_model
from mmcell.compat import install, quiet_known_warnings


def sdpa_flops(inputs, outputs):
    """FLOPs of ``aten::scaled_dot_product_attention`` from its q and k shapes."""
    *batch, nq, dims = get_shape(inputs[0])
    nk = get_shape(inputs[1])[-2]
    return 2 * int(torch.tensor(batch).prod()) * nq * nk * dims


def image_metas(model, inputs):
    """The data samples a model's tensor-mode forward needs besides the pixels: for an mmdet
    detector, each image's shape (its RPN turns anchors into proposals inside the image);
    None for a classifier."""
    if not isinstance(model, BaseDetector):
        return None
    shape = tuple(inputs.shape[-2:])
    meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape,
                scale_factor=(1., 1.))
    return [DetDataSample(metainfo=meta) for _ in range(inputs.size(0))]


class TensorMode(torch.nn.Module):
    """The model's ``mode='tensor'`` forward (backbone, neck and head), for the tracer."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, inputs):
        return self.model(inputs, image_metas(self.model, inputs), mode='tensor')


def complexity(model, shape):
    """Return (parameters, FLOPs, FLOPs per top-level module) at input ``shape`` (C, H, W)."""
    model.eval()
    inputs = torch.randn(1, *shape)
    analyzer = FlopAnalyzer(TensorMode(model), inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flops)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_module = {name: analyzer.by_module()[f'model.{name}']
                 for name, _ in model.named_children() if f'model.{name}' in analyzer.by_module()}
    return parameter_count(model)[''], analyzer.total(), by_module


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs='+', default=[224],
                        help='input size: H (square) or H W (default 224)')
    return parser.parse_args()


def main():
    args = parse_args()
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    model = build_model(args.config, init_weights=False)
    h, w = (args.shape * 2)[:2]
    params, flops, by_module = complexity(model, (3, h, w))
    print(f'{args.config} at {h}x{w}:')
    print(f'  parameters: {params / 1e6:.2f} M')
    print(f'  FLOPs:      {flops / 1e9:.2f} G (multiply-adds)')
    for name, value in by_module.items():
        if value:
            print(f"    {name:<18} {value / 1e9:.2f} G")


if __name__ == '__main__':
    main()
