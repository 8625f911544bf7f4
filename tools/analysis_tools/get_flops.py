"""Parameters and FLOPs of a config's model at a given input size.

FLOPs are counted by mmengine's jit-based FlopAnalyzer, one multiply-add as one FLOP (as
mmpretrain and fvcore report them), with a handle for ``scaled_dot_product_attention`` (which
mmengine does not count): Q @ K^T and attention @ V, 2 * B * heads * Nq * Nk * head_dims.

Example:
    python tools/analysis_tools/get_flops.py configs/cellvit_munich.py --shape 224
"""
import argparse

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcell.utils import config_scope


def sdpa_flops(inputs, outputs):
    """FLOPs of ``aten::scaled_dot_product_attention`` from its q and k shapes."""
    *batch, nq, dims = get_shape(inputs[0])
    nk = get_shape(inputs[1])[-2]
    return 2 * int(torch.tensor(batch).prod()) * nq * nk * dims


class TensorMode(torch.nn.Module):
    """The model's ``mode='tensor'`` forward (backbone, neck and head), for the tracer."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, inputs):
        return self.model(inputs, mode='tensor')


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
    cfg = Config.fromfile(args.config)
    scope = config_scope(cfg)
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    model = registry.build(cfg.model)
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
