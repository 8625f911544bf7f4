import numpy as np
import pytest
import torch

from mmcell.uncertainty.scores import (acceptance_threshold, fit_mahalanobis,
                                       known_unknown_auroc, mahalanobis, max_softmax,
                                       negative_energy, risk_coverage_curve, unknown_acceptance)


def test_max_softmax_and_negative_energy_are_higher_for_more_confident_logits():
    logits = torch.tensor([[6., 0., 0.], [1., 0.5, 0.], [0., 0., 0.]])
    msp = max_softmax(logits)
    assert torch.allclose(msp, logits.softmax(1).max(1).values)
    assert torch.allclose(max_softmax(logits, 2.), (logits / 2).softmax(1).max(1).values)
    energy = negative_energy(logits, 2.)
    assert torch.allclose(energy, 2 * torch.logsumexp(logits / 2, dim=1))
    assert (msp.diff() < 0).all() and (energy.diff() < 0).all()


@pytest.fixture(scope='module')
def clusters():
    """Three training clusters in 16-d with one shared correlated covariance, and a fourth,
    shifted cluster of an unknown kind."""
    g = torch.Generator().manual_seed(0)
    dim = 16
    mix = torch.randn(dim, dim, generator=g) / 4 + torch.eye(dim)
    means = 4 * torch.randn(3, dim, generator=g)

    def draw(mean, n):
        return mean + torch.randn(n, dim, generator=g) @ mix.T

    train = torch.cat([draw(m, 300) for m in means])
    train_labels = torch.arange(3).repeat_interleave(300)
    known = torch.cat([draw(m, 200) for m in means])
    unknown = draw(means.mean(0) + 3 * torch.randn(dim, generator=g), 300)
    return train, train_labels, known, unknown


def test_mahalanobis_scores_separate_a_shifted_cluster_from_the_training_clusters(clusters):
    train, train_labels, known, unknown = clusters
    fit = fit_mahalanobis(train, train_labels)
    known_scores = mahalanobis(known, *fit)
    unknown_scores = mahalanobis(unknown, *fit)
    assert known_unknown_auroc(known_scores, unknown_scores) > 0.95
    # Known cells' squared distances are about chi-square with 16 degrees of freedom.
    assert -known_scores.median() == pytest.approx(15.3, rel=0.2)


def test_the_mahalanobis_fit_is_the_hand_computed_one():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3))
    labels = np.arange(40) % 2
    fit = fit_mahalanobis(torch.tensor(features), torch.tensor(labels), ridge=1e-3)
    means = np.stack([features[labels == k].mean(0) for k in (0, 1)])
    centred = features - means[labels]
    cov = centred.T @ centred / 40
    cov += 1e-3 * np.trace(cov) / 3 * np.eye(3)
    assert np.allclose(fit.means.numpy(), means)
    assert np.allclose(fit.precision.numpy(), np.linalg.inv(cov))
    z = rng.normal(size=(5, 3))
    d2 = np.stack([np.einsum('nd,de,ne->n', z - m, np.linalg.inv(cov), z - m) for m in means])
    assert np.allclose(mahalanobis(torch.tensor(z), *fit).numpy(), -d2.min(0))


def test_a_singular_covariance_still_gives_finite_scores():
    g = torch.Generator().manual_seed(1)
    features = torch.randn(20, 64, generator=g)  # more channels than cells
    features[:, :8] = 0  # and channels that never vary
    fit = fit_mahalanobis(features, torch.arange(20) % 2)
    scores = mahalanobis(torch.randn(7, 64, generator=g), *fit)
    assert scores.isfinite().all() and (scores <= 0).all()
    # Collapsed features (all equal): the ridge alone.
    fit = fit_mahalanobis(torch.ones(6, 4), torch.tensor([0, 0, 0, 1, 1, 1]))
    assert torch.allclose(fit.precision, 1e3 * torch.eye(4, dtype=torch.float64))


def test_the_mahalanobis_fit_refuses_a_class_without_training_cells():
    with pytest.raises(ValueError, match=r'classes \[1\] have no training features'):
        fit_mahalanobis(torch.randn(4, 2), torch.tensor([0, 0, 2, 2]), num_classes=3)
    with pytest.raises(ValueError, match=r'features must be \(N, 3\)'):
        mahalanobis(torch.randn(4, 2), torch.zeros(2, 3), torch.eye(3))


def test_the_threshold_accepts_the_asked_share_of_known_cells():
    scores = torch.randn(1000, generator=torch.Generator().manual_seed(2))
    for accept in (0.5, 0.9, 0.95, 0.99):
        threshold = acceptance_threshold(scores, accept)
        assert (scores >= threshold).double().mean() == pytest.approx(accept, abs=1e-12)
    assert acceptance_threshold(scores, 1.0) == scores.min()
    # Ties at the threshold are accepted: never fewer than asked.
    assert acceptance_threshold([1, 1, 1, 1, 2], 0.5) == 1
    for bad in (0, 1.5, -1):
        with pytest.raises(ValueError, match='accept must be a share'):
            acceptance_threshold(scores, bad)


def test_auroc_and_unknown_acceptance_by_hand():
    assert known_unknown_auroc([3, 4, 5], [0, 1, 2]) == 1
    assert known_unknown_auroc([0, 1, 2], [3, 4, 5]) == 0
    assert known_unknown_auroc([1, 2], [1, 0]) == pytest.approx(0.875)  # 3.5 of 4 pairs
    assert unknown_acceptance(torch.arange(100.), torch.tensor([2., 10., 50., 99.]), 0.9) == 0.75
    with pytest.raises(ValueError, match='both known and unknown'):
        known_unknown_auroc([], [1.])


def test_risk_coverage_curve_by_hand():
    scores = [0.9, 0.1, 0.5, 0.5, 0.7]
    correct = [True, False, False, True, True]
    curve = risk_coverage_curve(scores, correct)
    assert curve.threshold.tolist() == [0.9, 0.7, 0.5, 0.1]
    assert curve.coverage.tolist() == [0.2, 0.4, 0.8, 1.0]  # the two 0.5 cells enter together
    assert curve.accuracy.tolist() == pytest.approx([1, 1, 0.75, 0.6])
    with pytest.raises(ValueError):
        risk_coverage_curve([1, 2], [1])
