"""Opt-in speed-ups for CPU inference of mmcell's CvT models (ConvTokenViT, CellViT).

The models themselves use ``nn.Linear`` and ``F.scaled_dot_product_attention``, as timm's and
mmpretrain's do. :func:`convert_for_cpu_inference` swaps in, in place and where they pay:

* **oneDNN linear layers.** torch's PyPI wheel multiplies float32 matrices on CPU with MKL,
  which on AMD CPUs takes a code path without AVX-512: 2.0-2.7x slower than oneDNN (AMD EPYC,
  a (6304, 384) x (384, 384) product 9.6 against 3.5 ms). In both precisions eager mode adds the
  bias in a pass of its own and GELU in another; oneDNN's fused primitive (inductor's
  ``torch.ops.mkldnn._linear_pointwise``, used here) does all three in one: a CvT MLP's first
  layer and its GELU took 19.8 ms in bf16 eager against 9.4 (AMD EPYC, 6304 tokens, 384 to
  1536). On an Intel Xeon with AMX, where MKL takes its AVX-512 path, the gain is the fused bias
  and GELU only. The op has no backward: whenever a gradient is asked for, or the dtype is not
  float32 or bfloat16 (after autocast), or the device is not the CPU, the layer is ``F.linear``
  as before; bfloat16 takes it only where oneDNN has bf16 kernels (AVX-512 BW/VL/DQ or
  AVX-NE-CONVERT), and under CPU autocast the product is in autocast's dtype, as ``F.linear``'s.
* **Attention in cache-sized blocks** in bfloat16, on CPUs with AVX-512-BF16 and no AMX: there
  ``F.scaled_dot_product_attention``'s fused CPU kernel ran 2.0-2.4x slower than the explicit
  form (scaled product, softmax, product) taken over a few (batch, head) slices at a time, each
  block of logits within :data:`ATTENTION_BLOCK_BYTES` (AMD EPYC, forward, every stage of
  CvT-13 at 128 and 224, batch 32). On an Intel Xeon with AMX the fused kernel is the faster,
  by 1.2-1.9x on the same stages, and in float32 it is as fast or faster everywhere, so there
  it stays.

Measured before and after in ``docs/performance.md`` (``tools/analysis_tools/benchmark.py``'s
``cellvit-cpu`` and ``cellvit-cls-head-cpu`` rows).
"""
import math
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import register_flop_formula

from mmcell.models.layers.conv_attention import ConvProjectionAttention, TokenMLP

__all__ = ['ATTENTION_BLOCK_BYTES', 'OneDNNLinear', 'blocked_attention',
           'convert_for_cpu_inference', 'onednn_applies', 'onednn_linear']

_POINTWISE = getattr(torch.ops.mkldnn, '_linear_pointwise', None) if hasattr(
    torch.ops, 'mkldnn') else None

if _POINTWISE is not None:

    @register_flop_formula(_POINTWISE)
    def _pointwise_flops(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
        """What ``torch.utils.flop_counter`` counts for the op: those of the matrix product."""
        return 2 * math.prod(x_shape[:-1]) * x_shape[-1] * w_shape[0]

#: Bytes of attention logits :func:`blocked_attention` forms at a time: small enough for the
#: processor's cache (a 4 MiB block ran CvT-13's first stage at 224x224, 3136 queries over 784
#: keys, in 43 ms where the whole map took 120 and the fused kernel 104; AMD EPYC, bf16).
ATTENTION_BLOCK_BYTES = 4 << 20


@lru_cache(maxsize=None)
def _cpu_flags() -> FrozenSet[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        lines = Path('/proc/cpuinfo').read_text().splitlines()
    except OSError:
        return frozenset()
    for line in lines:
        key, _, value = line.partition(':')
        if key.strip() == 'flags':
            return frozenset(value.split())
    return frozenset()


@lru_cache(maxsize=None)
def _onednn_bf16() -> bool:
    """Whether oneDNN has bf16 kernels on this CPU (where it has none, bf16 stays F.linear)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _blocked_attention_pays() -> bool:
    """Whether this CPU is one where :func:`blocked_attention` beats the fused kernel in bf16:
    AVX-512-BF16 without AMX (the fused kernel's fast bf16 path uses AMX)."""
    flags = _cpu_flags()
    return 'avx512_bf16' in flags and 'amx_bf16' not in flags


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype ``F.linear`` would compute in here: autocast's on CPU, else the input's."""
    return torch.get_autocast_dtype('cpu') if torch.is_autocast_enabled('cpu') else x.dtype


def onednn_applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether :func:`onednn_linear` takes the oneDNN path for this input and weight.

    Args:
        x (torch.Tensor): The input.
        weight (torch.Tensor): The layer's weight.

    Returns:
        bool: True on CPU, with no gradient to compute, in float32, or in bfloat16 (after
        autocast) where oneDNN has bf16 kernels, where torch has the op.
    """
    if _POINTWISE is None or x.device.type != 'cpu':
        return False
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        return False
    dtype = _compute_dtype(x)
    return dtype == torch.float32 or (dtype == torch.bfloat16 and _onednn_bf16())


def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                  gelu: bool = False) -> torch.Tensor:
    """``F.linear`` (then the exact GELU with ``gelu=True``), through oneDNN where it applies.

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
        >>> from mmcell.engine.cpu_inference import onednn_linear
        >>> x, w, b = torch.randn(4, 16), torch.randn(8, 16), torch.randn(8)
        >>> torch.allclose(onednn_linear(x, w, b, gelu=True), F.gelu(F.linear(x, w, b)),
        ...                atol=1e-5)
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
    """``nn.Linear`` (followed by the exact GELU with ``gelu=True``) through
    :func:`onednn_linear`.

    The same parameters and state-dict keys as ``nn.Linear``; where a gradient is asked for,
    and on other devices, it computes ``F.linear`` (and ``F.gelu``).

    Args:
        in_features (int): Input features.
        out_features (int): Output features.
        bias (bool): Learn an additive bias. Defaults to True.
        gelu (bool): Apply the exact GELU to the output, fused into the product. Defaults to
            False.
        device (torch.device, optional): As ``nn.Linear``'s. Defaults to None.
        dtype (torch.dtype, optional): As ``nn.Linear``'s. Defaults to None.

    Example:
        >>> import torch
        >>> from mmcell.engine.cpu_inference import OneDNNLinear
        >>> layer = OneDNNLinear.from_linear(torch.nn.Linear(16, 8), gelu=True).eval()
        >>> layer
        OneDNNLinear(in_features=16, out_features=8, bias=True, gelu=True)
        >>> with torch.no_grad():
        ...     layer(torch.randn(2, 5, 16)).shape
        torch.Size([2, 5, 8])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 gelu: bool = False, device=None, dtype=None) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        self.gelu = gelu

    @classmethod
    def from_linear(cls, layer: nn.Linear, gelu: bool = False) -> 'OneDNNLinear':
        """The layer ``layer`` is, sharing its parameters (and its training mode).

        Args:
            layer (nn.Linear): The layer.
            gelu (bool): Fuse the exact GELU after it. Defaults to False.

        Returns:
            OneDNNLinear: The new layer.
        """
        new = cls(layer.in_features, layer.out_features, layer.bias is not None, gelu,
                  device='meta')
        new.weight, new.bias = layer.weight, layer.bias
        return new.train(layer.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return onednn_linear(x, self.weight, self.bias, gelu=self.gelu)

    def extra_repr(self) -> str:
        return super().extra_repr() + (', gelu=True' if self.gelu else '')


def blocked_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      dropout_p: float = 0., scale: Optional[float] = None) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` (no mask), in cache-sized blocks for bf16 on CPU.

    In bfloat16 on CPU it forms the logits over a few (batch, head) slices at a time, each
    block within :data:`ATTENTION_BLOCK_BYTES`; otherwise it is
    ``F.scaled_dot_product_attention``. Differentiable either way.

    Args:
        query (torch.Tensor): (B, heads, N, d).
        key (torch.Tensor): (B, heads, N_kv, d).
        value (torch.Tensor): (B, heads, N_kv, d_v).
        dropout_p (float): Dropout on the attention probabilities. Defaults to 0.
        scale (float, optional): Scale of the logits. Defaults to ``d ** -0.5``.

    Returns:
        torch.Tensor: (B, heads, N, d_v).

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from mmcell.engine.cpu_inference import blocked_attention
        >>> q, k, v = (torch.randn(2, 3, n, 16, dtype=torch.bfloat16) for n in (40, 17, 17))
        >>> out = blocked_attention(q, k, v, scale=0.25)
        >>> expected = F.scaled_dot_product_attention(q.float(), k.float(), v.float(),
        ...                                           scale=0.25)
        >>> out.dtype, bool((out.float() - expected).abs().max() < 0.05)
        (torch.bfloat16, True)
    """
    if query.device.type != 'cpu' or query.dtype != torch.bfloat16:
        return F.scaled_dot_product_attention(query, key, value, dropout_p=dropout_p,
                                              scale=scale)
    scale = query.shape[-1]**-0.5 if scale is None else scale
    queries, keys_t = query.flatten(0, 1), key.flatten(0, 1).transpose(1, 2)
    values = value.flatten(0, 1)
    step = max(1, ATTENTION_BLOCK_BYTES //
               (query.shape[2] * key.shape[2] * query.element_size()))
    blocks = []
    for i in range(0, queries.shape[0], step):
        logits = torch.baddbmm(query.new_empty(1, 1, 1), queries[i:i + step],
                               keys_t[i:i + step], beta=0, alpha=scale)  # scaled in the product
        attention = logits.softmax(dim=-1)
        if dropout_p:
            attention = F.dropout(attention, dropout_p)
        blocks.append(attention @ values[i:i + step])
    return torch.cat(blocks).unflatten(0, query.shape[:2])


def _to_onednn(parent: nn.Module, name: str, gelu: bool = False) -> None:
    """Swap ``parent``'s ``nn.Linear`` child ``name`` for a :class:`OneDNNLinear`."""
    layer = getattr(parent, name)
    if type(layer) is nn.Linear:  # not subclasses: their forward may differ
        setattr(parent, name, OneDNNLinear.from_linear(layer, gelu))


def convert_for_cpu_inference(model: nn.Module) -> nn.Module:
    """Swap in the CPU inference fast paths of mmcell's CvT layers, in place.

    In every :class:`~mmcell.models.layers.conv_attention.ConvProjectionAttention` the q/k/v
    and output layers become :class:`OneDNNLinear`, and on CPUs with AVX-512-BF16 and no AMX its
    attention becomes :func:`blocked_attention`; in every
    :class:`~mmcell.models.layers.conv_attention.TokenMLP` both linear layers become
    :class:`OneDNNLinear`, the first with the exact GELU after it fused in (the GELU's place
    becomes an ``nn.Identity``). Parameters, buffers and state-dict keys stay as they were, so
    checkpoints load before or after; the outputs are the model's up to float rounding. Where
    torch has no oneDNN op, the linear layers are left alone.

    It is for inference, but the training mode does not matter: the converted layers compute
    what the plain ones do, falling back to ``F.linear`` wherever a gradient is asked for, so a
    converted model (a runner's, still in training mode until its test loop starts) evaluates
    and trains as before. Idempotent; a model without these layers (a detector, a ResNet) is
    returned unchanged.

    Args:
        model (nn.Module): A model, a backbone or a model wrapper; any module that holds
            the CvT layers.

    Returns:
        nn.Module: ``model`` itself, converted.

    Example:
        >>> import torch
        >>> import mmcell  # registers ConvTokenViT in mmpretrain's MODELS
        >>> from mmpretrain.registry import MODELS
        >>> from mmcell.engine import convert_for_cpu_inference
        >>> arch = dict(embed_dims=[16, 32], num_heads=[1, 2], depths=[1, 2],
        ...             patch_sizes=[7, 3], strides=[4, 2], paddings=[2, 1])
        >>> model = MODELS.build(dict(type='ConvTokenViT', arch=arch)).eval()
        >>> x = torch.rand(2, 3, 64, 64)
        >>> with torch.no_grad():
        ...     plain = model(x)[0]
        ...     fast = convert_for_cpu_inference(model)(x)[0]
        >>> torch.allclose(fast, plain, atol=1e-5)
        True
        >>> mlp = model.stages[1][0].mlp  # the first layer with its GELU fused in
        >>> mlp[0], mlp[1]
        (OneDNNLinear(in_features=32, out_features=128, bias=True, gelu=True), Identity())
    """
    onednn, blocked = _POINTWISE is not None, _blocked_attention_pays()
    for module in list(model.modules()):
        if isinstance(module, ConvProjectionAttention):
            if onednn:
                for name in ('q', 'k', 'v', 'proj'):
                    _to_onednn(module, name)
            if blocked:
                module.scaled_dot_product_attention = blocked_attention
        elif isinstance(module, TokenMLP) and onednn:
            act = module[1]
            fuse = (type(module[0]) is nn.Linear and type(act) is nn.GELU
                    and act.approximate == 'none')
            _to_onednn(module, '0', gelu=fuse)
            if fuse:
                module[1] = nn.Identity()
            _to_onednn(module, '3')
    return model
