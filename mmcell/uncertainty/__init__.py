"""Know what the classifier does not know: calibrated probabilities, an 'unidentified' bin, and
differential counts with confidence intervals.

- :mod:`.calibration`: temperature and vector scaling, ECE, Brier score, reliability bins;
- :mod:`.conformal`: class-conditional split-conformal prediction sets; a cell whose set is
  not exactly one class is unidentified;
- :mod:`.scores`: trust scores (max softmax, negative energy, Mahalanobis), the threshold that
  accepts a share of known cells, AUROC known vs unknown, risk-coverage curves;
- :mod:`.intervals`: exact binomial (Rümke / CLSI H20) intervals of differential percentages,
  unidentified cells apart, confusion-corrected counts;
- :mod:`.outputs`: logits, pre-logit features and labels of a classifier over a loader;
- :mod:`.state`: :class:`TrustState`, the fitted state of one checkpoint, saved beside it;
- :mod:`.report`: calibration, conformal coverage and open-set figures on a test set.

Computations only: the pictures (reliability diagram, risk-coverage curves) are drawn by
:mod:`mmcell.visualization.trust_plots`, and :class:`mmcell.evaluation.TrustMetric` makes the
report in a Runner's test loop.

Not imported by ``import mmcell``; import ``mmcell.uncertainty`` where it is used.
"""
from .calibration import (ReliabilityBins, apply_temperature, apply_vector_scaling, brier_score,
                          expected_calibration_error, fit_temperature, fit_vector_scaling,
                          reliability_bins)
from .conformal import (calibration_scores, class_coverage, conformal_thresholds,
                        min_calibration_cells, prediction_sets, unidentified)
from .intervals import (NOT_WHITE_CLASSES, NUCLEATED_RED_CLASSES, Differential, DifferentialRow,
                        correct_counts, differential_counts, proportion_interval,
                        white_cell_differential)
from .outputs import ClassifierOutputs, collect_outputs, final_layer, split_loader
from .report import format_trust_report, trust_report, write_trust_report
from .scores import (MahalanobisFit, RiskCoverage, acceptance_threshold, fit_mahalanobis,
                     known_unknown_auroc, mahalanobis, max_softmax, negative_energy,
                     risk_coverage_curve, unknown_acceptance)
from .state import ModelFingerprint, TrustState, model_fingerprint, trust_state_path

__all__ = [
    'ReliabilityBins', 'apply_temperature', 'apply_vector_scaling', 'brier_score',
    'expected_calibration_error', 'fit_temperature', 'fit_vector_scaling', 'reliability_bins',
    'calibration_scores', 'class_coverage', 'conformal_thresholds', 'min_calibration_cells',
    'prediction_sets', 'unidentified', 'Differential',
    'DifferentialRow', 'correct_counts', 'differential_counts', 'proportion_interval',
    'white_cell_differential', 'NOT_WHITE_CLASSES', 'NUCLEATED_RED_CLASSES',
    'ClassifierOutputs', 'collect_outputs', 'final_layer', 'split_loader',
    'format_trust_report', 'trust_report', 'write_trust_report', 'MahalanobisFit', 'RiskCoverage',
    'acceptance_threshold', 'fit_mahalanobis', 'known_unknown_auroc', 'mahalanobis',
    'max_softmax', 'negative_energy', 'risk_coverage_curve', 'unknown_acceptance',
    'ModelFingerprint', 'TrustState', 'model_fingerprint', 'trust_state_path'
]
