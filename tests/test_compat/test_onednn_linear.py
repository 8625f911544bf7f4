"""The oneDNN inference path for linear layers: same values as F.linear, training untouched."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmcell.compat import OneDNNLinear
from mmcell.compat.onednn_linear import linear, onednn_applies


@pytest.mark.parametrize('gelu', [False, True])
@pytest.mark.parametrize('with_bias', [False, True])
def test_float32_inference_equals_f_linear(gelu, with_bias):
    torch.manual_seed(0)
    x = torch.randn(6, 5, 16).transpose(0, 1)  # 3-D and not contiguous
    weight, bias = torch.randn(8, 16), torch.randn(8) if with_bias else None
    expected = F.linear(x, weight, bias)
    expected = F.gelu(expected) if gelu else expected
    with torch.no_grad():
        assert onednn_applies(x, weight)
        out = linear(x, weight, bias, gelu=gelu)
    assert out.shape == (5, 6, 8) and out.dtype == torch.float32
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_under_bf16_autocast_it_computes_in_bf16_like_f_linear():
    torch.manual_seed(0)
    x, weight, bias = torch.randn(32, 64), torch.randn(48, 64) * 0.1, torch.randn(48)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        out = linear(x, weight, bias, gelu=True)
        expected = F.gelu(F.linear(x, weight, bias))
    assert out.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected.float(), atol=0.05, rtol=0.02)


def test_training_and_other_dtypes_take_f_linear():
    weight = torch.randn(8, 16, requires_grad=True)
    assert not onednn_applies(torch.randn(2, 16), weight)  # a gradient is asked for
    with torch.no_grad():
        assert onednn_applies(torch.randn(2, 16), weight)
        assert not onednn_applies(torch.randn(2, 16, dtype=torch.float64), weight.double())


def test_onednn_linear_trains_and_infers_as_nn_linear():
    torch.manual_seed(0)
    plain = nn.Linear(16, 8)
    fast = OneDNNLinear(16, 8)
    fast.load_state_dict(plain.state_dict())
    assert list(fast.state_dict()) == ['weight', 'bias']
    x = torch.randn(4, 16)
    for layer in (plain, fast):
        layer(x).square().sum().backward()
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), plain(x), atol=1e-5, rtol=1e-5)


def test_the_flop_counter_counts_the_onednn_path_as_the_product():
    from torch.utils.flop_counter import FlopCounterMode
    layer = OneDNNLinear(16, 8).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(torch.randn(3, 5, 16))
    assert counter.get_total_flops() == 2 * 15 * 16 * 8
