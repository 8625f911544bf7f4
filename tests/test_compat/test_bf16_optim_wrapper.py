import torch
from mmengine.optim import build_optim_wrapper

import mmcell  # noqa: F401


def test_bf16_wrapper_runs_forward_in_bf16_and_keeps_fp32_weights():
    model = torch.nn.Linear(8, 2)
    wrapper = build_optim_wrapper(
        model, dict(type='BF16OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(4, 8))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    assert model.weight.dtype == torch.float32
    assert not torch.equal(model.weight, before)
    assert 'loss_scaler' not in wrapper.state_dict()
