import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmcell.uncertainty.calibration import (apply_temperature, apply_vector_scaling, brier_score,
                                            expected_calibration_error, fit_temperature,
                                            fit_vector_scaling, reliability_bins)


def sample_labels(logits, generator):
    """Labels drawn from softmax(logits): what a model with these (true) logits would see."""
    return torch.multinomial(logits.softmax(dim=1), 1, generator=generator)[:, 0]


@pytest.mark.parametrize('true_t', [2.5, 0.5])
def test_temperature_scaling_recovers_the_temperature_the_labels_were_sampled_with(true_t):
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(20000, 5, generator=g)
    labels = sample_labels(logits / true_t, g)  # the model's logits are T times too sharp
    assert fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.03)


def test_temperature_scaling_lowers_the_nll_and_the_ece():
    g = torch.Generator().manual_seed(1)
    logits = 3 * torch.randn(5000, 4, generator=g)
    labels = sample_labels(logits / 2, g)
    t = fit_temperature(logits, labels)
    before, after = logits.softmax(1), apply_temperature(logits, t)
    assert F.nll_loss(after.log(), labels) < F.nll_loss(before.log(), labels)
    assert expected_calibration_error(after, labels) < expected_calibration_error(before, labels)
    assert torch.equal(after.argmax(1), before.argmax(1))  # the top-1 class is unchanged


def test_vector_scaling_recovers_scale_and_bias():
    g = torch.Generator().manual_seed(2)
    logits = 2 * torch.randn(30000, 3, generator=g)
    scale, bias = torch.tensor([1., 2., 0.5]), torch.tensor([0., 1., -1.])
    labels = sample_labels(logits * scale + bias, g)
    fitted_scale, fitted_bias = fit_vector_scaling(logits, labels)
    assert torch.allclose(fitted_scale, scale, atol=0.08)
    assert torch.allclose(fitted_bias, bias - bias.mean(), atol=0.08)  # up to a common shift
    probs = apply_vector_scaling(logits, fitted_scale, fitted_bias)
    t_probs = apply_temperature(logits, fit_temperature(logits, labels))
    assert F.nll_loss(probs.log(), labels) < F.nll_loss(t_probs.log(), labels)


def test_fits_refuse_bad_input():
    with pytest.raises(ValueError, match='rows of logits'):
        fit_temperature(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match='class indices'):
        fit_vector_scaling(torch.zeros(2, 2), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match='positive'):
        apply_temperature(torch.zeros(1, 2), 0.)


def test_ece_of_perfectly_calibrated_predictions_is_near_zero():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1, 200000)
    probs = np.stack([confidence, 1 - confidence], axis=1)
    labels = (rng.uniform(size=confidence.size) > confidence).astype(int)  # class 0 w.p. c
    assert expected_calibration_error(probs, labels) < 0.005


def test_ece_of_an_over_confident_case_is_the_hand_computed_value():
    # 100 cells at confidence 0.9 of which 60 are right (gap 0.3), and 100 at 0.6 of which 60
    # are right (gap 0): ECE = 0.5 * 0.3 + 0.5 * 0 = 0.15.
    probs = [[0.9, 0.1]] * 100 + [[0.6, 0.4]] * 100
    labels = [0] * 60 + [1] * 40 + [0] * 60 + [1] * 40
    assert expected_calibration_error(probs, labels) == pytest.approx(0.15, abs=1e-12)
    # Three classes, all at 0.8, half right: ECE 0.3; Brier (0.06 + 1.46) / 2 = 0.76.
    probs = [[0.8, 0.1, 0.1]] * 4
    labels = [0, 0, 1, 1]
    assert expected_calibration_error(probs, labels) == pytest.approx(0.3, abs=1e-12)
    assert brier_score(probs, labels) == pytest.approx(0.76, abs=1e-12)


def test_reliability_bins_are_equal_width_with_counts_confidence_and_accuracy():
    probs = torch.tensor([[1.0, 0.0], [0.55, 0.45], [0.5, 0.5], [0.98, 0.02]])
    bins = reliability_bins(probs, torch.tensor([0, 1, 0, 0]), num_bins=10)
    assert np.allclose(bins.upper - bins.lower, 0.1) and bins.lower[0] == 0 and bins.upper[-1] == 1
    assert bins.count.tolist() == [0, 0, 0, 0, 1, 1, 0, 0, 0, 2]  # 0.5 in (0.4, 0.5]
    assert bins.accuracy[4] == 1 and bins.accuracy[5] == 0 and bins.accuracy[9] == 1
    assert bins.confidence[9] == pytest.approx(0.99)
    assert math.isnan(bins.confidence[0]) and math.isnan(bins.accuracy[0])
