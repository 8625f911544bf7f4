import math

import pytest
import torch
from mmpretrain.registry import MODELS

import mmcell  # noqa: F401


def build(**kwargs):
    return MODELS.build(dict(type='ThresholdedContrastiveLoss', **kwargs))


def test_hand_computed_value():
    # Three unit features: a and b at 60 degrees (cos 0.5), c orthogonal to both.
    feats = torch.tensor([[1.0, 0.0, 0.0], [0.5, math.sqrt(3) / 2, 0.0], [0.0, 0.0, 2.0]])
    labels = torch.tensor([0, 1, 0])
    # Same-label pairs (ordered, diagonal included): (a,a) (b,b) (c,c) cost 0; (a,c) and (c,a)
    # cost 1 - 0 = 1 each. Different-label pairs: (a,b), (b,a) cost max(0.5 - 0.4, 0) = 0.1 each;
    # (b,c), (c,b) cost max(0 - 0.4, 0) = 0. Sum 2.2 over N^2 = 9.
    assert build()(feats, labels).item() == pytest.approx(2.2 / 9, abs=1e-6)
    assert build(threshold=0.6)(feats, labels).item() == pytest.approx(2.0 / 9, abs=1e-6)
    assert build(loss_weight=0.5)(feats, labels).item() == pytest.approx(1.1 / 9, abs=1e-6)


def test_scale_invariant_and_zero_for_ideal_features():
    labels = torch.tensor([0, 0, 1, 1])
    ideal = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 0.2]])
    assert build()(ideal, labels).item() == pytest.approx(0.0, abs=1e-6)
    feats = torch.randn(4, 8)
    assert build()(feats * 7, labels).item() == pytest.approx(build()(feats, labels).item(),
                                                              abs=1e-5)


def test_gradient_pulls_same_class_together():
    feats = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    build()(feats, torch.tensor([0, 0])).backward()
    # The loss falls when feature 0 turns towards feature 1: its gradient along y is negative.
    assert feats.grad[0, 1] < 0 and feats.grad[1, 0] < 0


def test_one_hot_scores_give_the_hard_label_loss():
    torch.manual_seed(0)
    feats, labels = torch.randn(6, 8), torch.tensor([0, 2, 1, 0, 2, 2])
    scores = torch.nn.functional.one_hot(labels, 3).float()
    assert build()(feats, scores).item() == pytest.approx(build()(feats, labels).item(), abs=1e-6)


def test_soft_labels_weigh_each_pair_by_the_chance_of_a_shared_class():
    # a = (1, 0) labelled class 0; b = (0, 1) half class 0, half class 1 (a Mixup of the two).
    # Agreement: (a,a) 1, (b,b) 0.5, (a,b) 0.5. Costs: (a,a) 0; (b,b) at cos 1:
    # 0.5 * 0 + 0.5 * (1 - 0.4) = 0.3; (a,b) and (b,a) at cos 0: 0.5 * 1 + 0.5 * 0 = 0.5 each.
    feats = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    scores = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    assert build()(feats, scores).item() == pytest.approx(1.3 / 4, abs=1e-6)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match='threshold'):
        build(threshold=1.5)
    with pytest.raises(ValueError, match='3 features but 2 labels'):
        build()(torch.randn(3, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r'scores \(N, C\), got shape \(3, 2, 1\)'):
        build()(torch.randn(3, 4), torch.zeros(3, 2, 1))


def _one_process_of_two(rank, port, feats, labels, sizes, out):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=2)
    own = slice(sum(sizes[:rank]), sum(sizes[:rank + 1]))
    local = feats[own].clone().requires_grad_()
    loss = build()(local, labels[own])
    loss.backward()
    torch.save({'loss': loss.detach(), 'grad': local.grad}, out[rank])
    dist.destroy_process_group()


@pytest.mark.parametrize('soft', [False, True], ids=['class indices', 'Mixup scores'])
def test_two_processes_with_uneven_batches_get_the_whole_batch_loss(tmp_path, soft):
    """5 samples split 3 + 2 over two gloo processes: each reports the loss of all 5, and its
    features' gradient, averaged as DDP averages, is that of one process holding all 5."""
    import socket

    import torch.multiprocessing as mp
    torch.manual_seed(0)
    feats, labels = torch.randn(5, 8), torch.tensor([0, 1, 0, 1, 1])
    if soft:
        labels = torch.softmax(torch.randn(5, 3), dim=1)
    whole = feats.clone().requires_grad_()
    expected = build()(whole, labels)
    expected.backward()
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out = [tmp_path / f'rank{r}.pt' for r in range(2)]
    mp.spawn(_one_process_of_two, args=(port, feats, labels, (3, 2), out), nprocs=2)
    results = [torch.load(path) for path in out]
    for result in results:
        assert torch.allclose(result['loss'], expected.detach(), atol=1e-6)
    grads = torch.cat([result['grad'] for result in results]) / 2  # DDP's average
    assert torch.allclose(grads, whole.grad, atol=1e-6)
