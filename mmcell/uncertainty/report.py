"""How far a classifier's probabilities and its trust state can be trusted on a test set.

:func:`trust_report` measures, on the outputs of a test split (and optionally of cells of kinds
the model was not trained on): calibration before and after (ECE, Brier score), the conformal
prediction sets' coverage at several targets, what the state's rejection does to the known
cells (share sent to ``unidentified``, accuracy of the rest) and to the unknown ones (share
caught), and per trust score the known-vs-unknown AUROC and the unknown cells caught at the
threshold fitted on the validation split. :func:`write_trust_report` writes it as JSON and
text; its two pictures (reliability diagram, risk-coverage curves) are drawn by
:func:`mmcell.visualization.trust_plots.draw_trust_report`. ``tools/test.py`` gets all of them
from :class:`mmcell.evaluation.TrustMetric` when the checkpoint has a trust state beside it.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch

from .calibration import brier_score, expected_calibration_error
from .conformal import class_coverage, prediction_sets, unidentified
from .outputs import ClassifierOutputs
from .scores import known_unknown_auroc
from .state import TrustState

__all__ = ['format_trust_report', 'trust_report', 'write_trust_report']

COVERAGES = (0.9, 0.95, 0.99)


def _share(mask: torch.Tensor) -> Optional[float]:
    return float(mask.float().mean()) * 100 if mask.numel() else None


def _conformal(state: TrustState, probs: torch.Tensor, labels: torch.Tensor,
               coverage: float) -> dict:
    try:
        thresholds = state.conformal_thresholds(coverage)
    except ValueError as err:  # too few calibration cells for this coverage
        return dict(target=coverage * 100, refused=str(err))
    sets = prediction_sets(probs, thresholds)
    covered = sets[torch.arange(len(labels)), labels]
    single = ~unidentified(sets)
    per_class = class_coverage(sets, labels, len(state.fingerprint.classes))
    return dict(target=coverage * 100, coverage=_share(covered),
                min_class_coverage=min(100 * float(v) for v in per_class
                                       if v == v),  # NaN: a class without test cells
                single_class=_share(single),
                accuracy_single=_share((sets.long().argmax(1) == labels)[single]))


def trust_report(state: TrustState, known: ClassifierOutputs,
                 unknown: Optional[ClassifierOutputs] = None,
                 coverages: Sequence[float] = COVERAGES) -> Dict[str, object]:
    """Calibration, conformal coverage, rejection and open-set figures on a test set.

    Args:
        state (TrustState): The model's fitted state (checked against ``known``'s classes
            by the caller, see :meth:`TrustState.check`).
        known (ClassifierOutputs): Outputs on test cells of the model's classes, labelled.
        unknown (ClassifierOutputs, optional): Outputs on cells of other kinds (their labels
            are ignored). Defaults to None.
        coverages (Sequence[float]): Conformal targets to measure. Defaults to 90, 95, 99%.

    Returns:
        dict: ``calibration`` (ECE and Brier before/after, accuracy), ``conformal`` (per
        target: coverage, smallest class coverage, share of one-class sets and their
        accuracy, or why the target was refused), ``rejection`` (the state's own rule: share
        of known cells unidentified, accuracy of the accepted, share of unknown caught),
        ``scores`` (per score: AUROC, known accepted and unknown caught at its threshold), and
        the arrays behind the pictures under ``curves``.

    Example:
        >>> import torch
        >>> from mmcell.uncertainty import ClassifierOutputs, ModelFingerprint, TrustState
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.arange(400) % 2
        >>> logits = 3 * torch.nn.functional.one_hot(labels, 2) + torch.randn(400, 2, generator=g)
        >>> state = TrustState.fit(ModelFingerprint(('a', 'b'), 'cfg.py', '0' * 64),
        ...                        logits[:200], labels[:200], coverage=0.9)
        >>> known = ClassifierOutputs(logits[200:], torch.zeros(200, 1), labels[200:])
        >>> report = trust_report(state, known, coverages=(0.9, ))
        >>> round(report['conformal'][0]['coverage']) in range(85, 96)
        True
    """
    labels = known.labels
    raw = known.logits.softmax(dim=1)
    probs = state.calibrate(known.logits)
    calibration = dict(
        accuracy=_share(probs.argmax(1) == labels),
        ece_before=100 * expected_calibration_error(raw, labels),
        ece_after=100 * expected_calibration_error(probs, labels),
        brier_before=brier_score(raw, labels), brier_after=brier_score(probs, labels),
        method=state.calibration, temperature=state.temperature, cells=len(labels))
    applied = state.apply(known.logits, known.features)
    accepted = ~applied['unidentified']
    rejection = dict(
        coverage=state.coverage * 100, reject_by=list(state.reject_by),
        known_unidentified=_share(applied['unidentified']),
        accuracy_accepted=_share((applied['prediction'] == labels)[accepted]))
    scores = {}
    known_scores = applied['scores']
    if unknown is not None:
        unknown_applied = state.apply(unknown.logits, unknown.features)
        rejection['unknown_caught'] = _share(unknown_applied['unidentified'])
        rejection['unknown_cells'] = len(unknown.logits)
    for name, values in known_scores.items():
        row = dict(threshold=state.thresholds.get(name))
        if row['threshold'] is not None:
            row['known_accepted'] = _share(values >= row['threshold'])
        if unknown is not None:
            other = unknown_applied['scores'][name]
            row['auroc'] = 100 * known_unknown_auroc(values, other)
            if row['threshold'] is not None:
                row['unknown_caught'] = _share(other < row['threshold'])
        scores[name] = row
    correct = applied['probs'].argmax(1) == labels
    return dict(
        calibration=calibration, conformal=[_conformal(state, probs, labels, c)
                                            for c in coverages],
        rejection=rejection, scores=scores,
        curves=dict(raw=raw, probs=probs, labels=labels, correct=correct,
                    scores=known_scores))


def format_trust_report(report: Dict[str, object]) -> str:
    """The report as text, for the console and ``trust_report.txt``."""
    def num(value, digits=2):
        return 'n/a' if value is None else f'{value:.{digits}f}'

    cal = report['calibration']
    lines = [f"Calibration ({cal['method']}, {cal['cells']} test cells, accuracy "
             f"{num(cal['accuracy'])}%): ECE {num(cal['ece_before'])}% -> "
             f"{num(cal['ece_after'])}%, Brier {num(cal['brier_before'], 4)} -> "
             f"{num(cal['brier_after'], 4)}", 'Conformal prediction sets:']
    for row in report['conformal']:
        if 'refused' in row:
            lines.append(f"  {num(row['target'], 0)}% target: not available ({row['refused']})")
        else:
            lines.append(f"  {num(row['target'], 0)}% target: coverage {num(row['coverage'])}% "
                         f"(smallest class {num(row['min_class_coverage'])}%), one-class sets "
                         f"{num(row['single_class'])}% with accuracy "
                         f"{num(row['accuracy_single'])}%")
    rej = report['rejection']
    rule = ' or '.join(['set not one class'] + [f'{s} below threshold'
                                                for s in rej['reject_by']])
    line = (f"Unidentified ({rule}, {num(rej['coverage'], 0)}% sets): known cells "
            f"{num(rej['known_unidentified'])}%, accuracy of the accepted "
            f"{num(rej['accuracy_accepted'])}%")
    if 'unknown_caught' in rej:
        line += f"; unknown cells caught {num(rej['unknown_caught'])}% of {rej['unknown_cells']}"
    lines += [line, 'Scores (threshold accepting the validation share of known cells):']
    for name, row in report['scores'].items():
        parts = [f"known accepted {num(row.get('known_accepted'))}%"]
        if 'auroc' in row:
            parts.insert(0, f"AUROC {num(row['auroc'])}%")
        if 'unknown_caught' in row:
            parts.append(f"unknown caught {num(row['unknown_caught'])}%")
        lines.append(f'  {name:<16} ' + ', '.join(parts))
    return '\n'.join(lines)


def write_trust_report(report: Dict[str, object], out_dir: str) -> List[str]:
    """Write a trust report's figures as ``trust_report.json`` and ``trust_report.txt``.

    The JSON holds everything but the ``curves`` (the arrays behind the pictures, which
    :func:`mmcell.visualization.trust_plots.draw_trust_report` draws); the text is
    :func:`format_trust_report`.

    Args:
        report (dict): From :func:`trust_report`.
        out_dir (str): An existing folder.

    Returns:
        list[str]: The two files written.

    Example:
        >>> import json, tempfile, torch
        >>> from pathlib import Path
        >>> from mmcell.uncertainty import ClassifierOutputs, ModelFingerprint, TrustState
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.arange(400) % 2
        >>> logits = 3 * torch.nn.functional.one_hot(labels, 2) + torch.randn(400, 2, generator=g)
        >>> state = TrustState.fit(ModelFingerprint(('a', 'b'), 'cfg.py', '0' * 64),
        ...                        logits[:200], labels[:200], coverage=0.9)
        >>> report = trust_report(state, ClassifierOutputs(logits[200:], torch.zeros(200, 1),
        ...                                                labels[200:]), coverages=(0.9, ))
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     paths = write_trust_report(report, folder)
        ...     sorted(json.loads(Path(paths[0]).read_text()))
        ['calibration', 'conformal', 'rejection', 'scores']
    """
    paths = [osp.join(out_dir, 'trust_report.json'), osp.join(out_dir, 'trust_report.txt')]
    with open(paths[0], 'w') as f:
        json.dump({k: v for k, v in report.items() if k != 'curves'}, f, indent=1)
    with open(paths[1], 'w') as f:
        f.write(format_trust_report(report) + '\n')
    return paths
