"""Mend: linear layers at inference on CPU through oneDNN, with the MLP's GELU fused in.

Upstream: torch 2.13 runs a float32 ``F.linear`` on CPU through its BLAS (MKL in the PyPI
wheels), which on AMD CPUs takes a code path without AVX-512: 2.0-2.7x slower than oneDNN's on
this machine (AMD EPYC, AVX-512; a (6304, 384) x (384, 384) product 9.6 against 3.5 ms). In
bfloat16 both go through oneDNN, but eager mode adds the bias in a pass of its own and GELU in
another: a ViT's first MLP layer and its GELU took 19.8 ms where oneDNN's fused primitive takes
9.4 (6304 tokens, 384 to 1536). ``torch.compile`` fuses these too, but costs minutes of
compilation on two cores and a compiled model per input shape.
Why: CvT-13's inference is 60% linear layers; with these the ConvTokenViT-13 runs ahead of
Hugging Face's CvT-13 in both precisions (docs/performance.md).
When it can go: when eager torch routes float32 CPU products through oneDNN (or MKL takes its
AVX-512 path on AMD) and fuses bias and activation; or when ``torch.ops.mkldnn
._linear_pointwise`` (inductor's oneDNN op, used here) is gone, as :func:`onednn_applies` then
falls back by itself.

Only inference takes this path (no gradient is asked for): the op has no backward. Training,
other devices and dtypes other than float32 and bfloat16 run ``F.linear`` as before.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import register_flop_formula

_POINTWISE = getattr(torch.ops.mkldnn, '_linear_pointwise', None) if hasattr(
    torch.ops, 'mkldnn') else None

if _POINTWISE is not None:

    @register_flop_formula(_POINTWISE)
    def _pointwise_flops(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
        """What ``torch.utils.flop_counter`` counts for the op: those of the matrix product."""
        return 2 * math.prod(x_shape[:-1]) * x_shape[-1] * w_shape[0]


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype ``F.linear`` would compute in here: autocast's on CPU, else the input's."""
    return torch.get_autocast_dtype('cpu') if torch.is_autocast_enabled('cpu') else x.dtype


def onednn_applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether :func:`linear` takes the oneDNN path for this input and weight.

    True on CPU, in float32 or bfloat16 (after autocast), with no gradient to compute, where
    torch has the op.
    """
    if _POINTWISE is None or x.device.type != 'cpu':
        return False
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        return False
    return _compute_dtype(x) in (torch.float32, torch.bfloat16)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
           gelu: bool = False) -> torch.Tensor:
    """``F.linear`` (then exact GELU with ``gelu=True``), through oneDNN where it applies.

    Args:
        x (torch.Tensor): Input (..., in_features).
        weight (torch.Tensor): (out_features, in_features).
        bias (torch.Tensor, optional): (out_features, ). Defaults to None.
        gelu (bool): Apply the exact (erf) GELU to the output. Defaults to False.

    Returns:
        torch.Tensor: (..., out_features), in autocast's dtype under CPU autocast.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from mmcell.compat.onednn_linear import linear
        >>> x, w, b = torch.randn(4, 16), torch.randn(8, 16), torch.randn(8)
        >>> torch.allclose(linear(x, w, b, gelu=True), F.gelu(F.linear(x, w, b)), atol=1e-5)
        True
    """
    if not onednn_applies(x, weight):
        out = F.linear(x, weight, bias)
        return F.gelu(out) if gelu else out
    dtype = _compute_dtype(x)
    bias = None if bias is None else bias.to(dtype)
    return _POINTWISE(x.to(dtype), weight.to(dtype), bias, 'gelu' if gelu else 'none', [],
                      'none' if gelu else '')


class OneDNNLinear(nn.Linear):
    """``nn.Linear`` whose inference on CPU runs through :func:`linear`.

    The same parameters and state-dict keys as ``nn.Linear``; in training, and on other
    devices, it is ``nn.Linear``.

    Example:
        >>> import torch
        >>> from mmcell.compat import OneDNNLinear
        >>> layer = OneDNNLinear(16, 8).eval()
        >>> with torch.no_grad():
        ...     out = layer(torch.randn(2, 5, 16))
        >>> out.shape
        torch.Size([2, 5, 8])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
