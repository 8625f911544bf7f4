"""The trust report of a classifier as an mmengine metric, made in the Runner's one test pass.

:class:`TrustMetric` measures what :func:`mmcell.uncertainty.trust_report` measures (calibration
before and after, conformal coverage, the state's rejection, trust scores and, with cells of
kinds the model was not trained on, the open-set figures) and writes the same files
``tools/test.py`` writes: ``trust_report.json``, ``trust_report.txt``,
``reliability_diagram.png`` and ``risk_coverage.png``.

How the outputs reach it. The report needs each cell's logits and pre-logit features (the input
of the head's final linear layer, :func:`mmcell.uncertainty.final_layer`); a test step returns
only the softmax scores. :class:`TrustOutputsHook` (a Runner hook) puts torch forward hooks on
the model in ``before_test``: one on the final layer keeps its input and output, one on the
model itself, when ``forward(mode='predict')`` returns, sets them on each returned data sample
as ``trust_logits`` and ``trust_features``. mmengine's ``TestLoop.run_iter`` calls
``model.test_step`` then ``evaluator.process`` (``after_test_iter`` comes after it), so the
fields are on the samples when the metric reads them; nothing in the model or the loop changes
and the test set is run once. The metric takes the fields out of the samples it reads, so a
later metric (``DumpResults``) sees the predictions as without it. Capturing the layer's own
input and output, rather than calling ``extract_feat`` and ``pre_logits`` again, gives exactly
the numbers :func:`mmcell.uncertainty.collect_outputs` gives on the same batches.

Cells of other kinds (``unknown_dataloader``) are not test-set cells, so the test loop never
sees them: the hook runs the model over them once in ``before_test``
(:func:`~mmcell.uncertainty.collect_outputs`, each rank its share, gathered on the first rank
where the metric is computed). ``before_test`` is also where the trust state is checked against
the model (:meth:`~mmcell.uncertainty.TrustState.check`): the Runner has loaded the checkpoint
by then.

``mmcell.uncertainty`` is imported when the metric or the hook is used, so ``import mmcell``
stays without it.
"""
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.dist import collect_results
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement
from mmpretrain.registry import METRICS
from torch.utils.data import DataLoader

from mmcell.visualization.trust_plots import draw_trust_report

if TYPE_CHECKING:
    from mmcell.uncertainty import ClassifierOutputs, TrustState

__all__ = ['TRUST_FIELDS', 'TrustMetric', 'TrustOutputsHook', 'trust_summary']

# The data-sample fields TrustOutputsHook sets and TrustMetric reads: logits (C,), features (D,).
TRUST_FIELDS = ('trust_logits', 'trust_features')


@METRICS.register_module()
class TrustMetric(BaseMetric):
    """The trust report of a classifier on the test set: figures logged, files written.

    Needs :class:`TrustOutputsHook` among the Runner's hooks, which puts each cell's logits and
    pre-logit features on its data sample (see the module's docstring for why a hook).
    ``tools/test.py`` adds both when the checkpoint has a trust state beside it.

    Args:
        state (str | PathLike | TrustState): The trust state, or its file (usually
            :func:`~mmcell.uncertainty.trust_state_path` of the checkpoint).
        coverages (Sequence[float]): Conformal targets to measure. Defaults to 90, 95 and 99%.
        out_dir (str, optional): Where to write ``trust_report.json``, ``trust_report.txt``,
            ``reliability_diagram.png`` and ``risk_coverage.png``; nothing is written when None.
            Defaults to None.
        collect_device (str): Device to collect the results on in distributed evaluation.
            Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None (``'trust'``).

    Attributes:
        state (TrustState): The trust state.
        unknown (ClassifierOutputs | None): Outputs on cells of kinds the model was not trained
            on, set by :class:`TrustOutputsHook` before the test loop; None: no open-set figures.

    Returns (as metrics, :func:`trust_summary`): ``brier_before`` and ``brier_after`` (0 to 2);
    in percent, ``accuracy``, ``ece_before``, ``ece_after``, ``known_unidentified``,
    ``accuracy_accepted``, ``coverage_<target>`` for each target the state can give and, with
    unknown cells, ``unknown_caught`` and ``auroc_<score>`` for each trust score. The whole
    report is in the log and the files.

    Raises:
        FileNotFoundError: If ``state`` names no file.
        ValueError: If the file is not a trust state (naming it); in ``process``, if a sample
            has no ``gt_label`` or no outputs of :class:`TrustOutputsHook`.

    Example:
        >>> import torch
        >>> import mmcell  # registers the metric in mmpretrain's METRICS
        >>> from mmpretrain.registry import METRICS
        >>> from mmcell.uncertainty import ModelFingerprint, TrustState
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.arange(400) % 2
        >>> logits = 3 * torch.nn.functional.one_hot(labels, 2) + torch.randn(400, 2, generator=g)
        >>> state = TrustState.fit(ModelFingerprint(('a', 'b'), 'cfg.py', '0' * 64),
        ...                        logits[:200], labels[:200], coverage=0.9)
        >>> metric = METRICS.build(dict(type='TrustMetric', state=state, coverages=(0.9, )))
        >>> # What the test loop gives it, with TrustOutputsHook's fields on each sample:
        >>> metric.process(None, [dict(trust_logits=z, trust_features=torch.zeros(1),
        ...                            gt_label=y.view(1))
        ...                       for z, y in zip(logits[200:], labels[200:])])
        >>> len(metric.results)
        200
        >>> metric.evaluate(size=200)  # logs the report first # doctest: +SKIP
        {'trust/accuracy': 98.0..., 'trust/ece_before': 7.94..., 'trust/ece_after': 2.44...,
        'trust/brier_before': 0.066..., 'trust/brier_after': 0.043..., 'trust/known_unidentified':
        12.99..., 'trust/accuracy_accepted': 98.85..., 'trust/coverage_90': 86.0...}
    """
    default_prefix = 'trust'

    def __init__(self,
                 state: Union[str, os.PathLike, 'TrustState'],
                 coverages: Sequence[float] = (0.9, 0.95, 0.99),
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        from mmcell.uncertainty import TrustState
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.state = state if isinstance(state, TrustState) else TrustState.load(state)
        self.coverages = tuple(coverages)
        self.out_dir = out_dir
        self.unknown: Optional['ClassifierOutputs'] = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each cell's logits, pre-logit features and true class.

        Args:
            data_batch (Any): The batch (not used).
            data_samples (Sequence[dict]): The test step's outputs as dicts, with the fields of
                :class:`TrustOutputsHook`, which are taken out of them.
        """
        for sample in data_samples:
            missing = [name for name in TRUST_FIELDS if name not in sample]
            if missing:
                raise ValueError(f'TrustMetric: a test sample has no {" or ".join(missing)}: add '
                                 "dict(type='TrustOutputsHook') to the Runner's custom_hooks")
            gt = sample.get('gt_label')
            if gt is None or gt.numel() == 0:
                raise ValueError('TrustMetric: a test sample has no gt_label; the trust report '
                                 'needs the true class of every test cell')
            logits, features = (sample.pop(name) for name in TRUST_FIELDS)
            self.results.append((logits.cpu(), features.cpu(), int(gt.reshape(-1)[0])))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Make the report, log it, write the files if ``out_dir`` is set.

        Args:
            results (list): ``(logits, features, label)`` of every test cell.

        Returns:
            dict[str, float]: :func:`trust_summary` of the report.
        """
        from mmcell.uncertainty import (ClassifierOutputs, format_trust_report, trust_report,
                                        write_trust_report)
        known = ClassifierOutputs(torch.stack([r[0] for r in results]),
                                  torch.stack([r[1] for r in results]),
                                  torch.tensor([r[2] for r in results], dtype=torch.long))
        report = trust_report(self.state, known, self.unknown, self.coverages)
        source = self.state.source or 'a trust state not read from a file'
        print_log(f'Trust report ({source}):\n{format_trust_report(report)}', logger='current')
        if self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
            for path in (write_trust_report(report, self.out_dir) +
                         draw_trust_report(report, self.out_dir)):
                print_log(f'wrote {path}', logger='current')
        return trust_summary(report)


def trust_summary(report: Dict[str, object]) -> Dict[str, float]:
    """The scalar figures of a trust report that :class:`TrustMetric` returns (None dropped).

    Args:
        report (dict): From :func:`mmcell.uncertainty.trust_report`.

    Returns:
        dict[str, float]: See :class:`TrustMetric`'s metrics.

    Example:
        >>> trust_summary(dict(  # doctest: +NORMALIZE_WHITESPACE
        ...     calibration=dict(accuracy=90., ece_before=5., ece_after=2., brier_before=0.2,
        ...                      brier_after=0.1),
        ...     conformal=[dict(target=90., coverage=91.), dict(target=99., refused='...')],
        ...     rejection=dict(known_unidentified=8., accuracy_accepted=None),
        ...     scores=dict(mahalanobis=dict(threshold=-3.))))
        {'accuracy': 90.0, 'ece_before': 5.0, 'ece_after': 2.0, 'brier_before': 0.2,
         'brier_after': 0.1, 'known_unidentified': 8.0, 'coverage_90': 91.0}
    """
    calibration, rejection = report['calibration'], report['rejection']
    out = {k: calibration[k] for k in ('accuracy', 'ece_before', 'ece_after', 'brier_before',
                                       'brier_after')}
    out.update({k: rejection[k] for k in ('known_unidentified', 'accuracy_accepted',
                                          'unknown_caught') if k in rejection})
    out.update({f'coverage_{row["target"]:g}': row['coverage'] for row in report['conformal']
                if 'coverage' in row})
    out.update({f'auroc_{name}': row['auroc'] for name, row in report['scores'].items()
                if 'auroc' in row})
    return {k: float(v) for k, v in out.items() if v is not None}


@HOOKS.register_module()
class TrustOutputsHook(Hook):
    """Give :class:`TrustMetric` each test cell's logits and pre-logit features, in the test
    loop's one pass; check the trust state against the model; collect the unknown cells.

    In ``before_test`` (the checkpoint is loaded by then) it checks each :class:`TrustMetric`'s
    state against the model's final layer and the test set's classes, runs the model over
    ``unknown_dataloader`` if given, and puts forward hooks on the model that set
    ``trust_logits`` and ``trust_features`` on every data sample ``test_step`` returns (see the
    module's docstring); ``after_test`` takes them off.

    Args:
        unknown_dataloader (DataLoader | dict, optional): Cells of kinds the model was not
            trained on (e.g. all cells of a left-out class: their labels are ignored), a loader
            or its config, for the open-set figures. Defaults to None.

    Raises:
        ValueError: In ``before_test``, if the test evaluator has no :class:`TrustMetric`, or a
            state was fitted for another model (:meth:`~mmcell.uncertainty.TrustState.check`).
        TypeError: In ``before_test``, if the model is not an mmpretrain classifier with a
            known final layer (e.g. under test-time augmentation, which wraps it).

    Example:
        >>> import mmcell  # registers the hook in mmengine's HOOKS
        >>> from mmengine.registry import HOOKS
        >>> HOOKS.build(dict(type='TrustOutputsHook'))  # doctest: +ELLIPSIS
        <mmcell.evaluation.trust_metric.TrustOutputsHook object at ...>
        >>> # In a config, with the metric:
        >>> custom_hooks = [dict(type='TrustOutputsHook')]
        >>> test_evaluator = [dict(type='Accuracy'),
        ...                   dict(type='TrustMetric', state='epoch_6.trust.pth', out_dir='out')]
    """

    def __init__(self, unknown_dataloader: Optional[Union[DataLoader, dict]] = None) -> None:
        self.unknown_dataloader = unknown_dataloader
        self._handles: List[torch.utils.hooks.RemovableHandle] = []
        self._captured: Optional[tuple] = None

    def before_test(self, runner: Runner) -> None:
        """Check the states, collect the unknown cells, hook the model."""
        from mmcell.uncertainty import final_layer, model_fingerprint
        self._remove()
        metrics = [m for m in runner.test_evaluator.metrics if isinstance(m, TrustMetric)]
        if not metrics:
            raise ValueError("TrustOutputsHook: the test evaluator has no TrustMetric; add "
                             "dict(type='TrustMetric', state=...) to test_evaluator")
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'head', None)
        layer = final_layer(head) if head is not None else None
        if layer is None:
            raise TypeError(f'TrustOutputsHook: {type(model).__name__} has no head with a known '
                            'final linear layer (an mmpretrain ImageClassifier with a '
                            'LinearClsHead-like or VisionTransformerClsHead; test-time '
                            'augmentation wraps it and is not supported)')
        fingerprint = model_fingerprint(model, runner.test_dataloader.dataset.metainfo['classes'],
                                        getattr(runner.cfg, 'filename', None) or '')
        for metric in metrics:
            metric.state.check(fingerprint)
        if self.unknown_dataloader is not None:
            unknown = self._collect_unknown(runner, model)
            for metric in metrics:
                metric.unknown = unknown
        self._handles = [layer.register_forward_hook(self._capture),
                         model.register_forward_pre_hook(self._forget),
                         model.register_forward_hook(self._attach)]

    def after_test(self, runner: Runner) -> None:
        """Take the forward hooks off the model."""
        self._remove()

    def _collect_unknown(self, runner: Runner, model: nn.Module) -> Optional['ClassifierOutputs']:
        """The unknown cells' outputs on the first rank (None on the others)."""
        from mmcell.uncertainty import ClassifierOutputs, collect_outputs
        loader = Runner.build_dataloader(self.unknown_dataloader, seed=runner.seed)
        outputs = collect_outputs(model, loader, description='unknown-cell batches')
        # Each rank ran its share of the cells; all of them, in order, on the first rank.
        rows = collect_results(list(zip(*outputs)), len(loader.dataset))
        if rows is None:
            return None
        return ClassifierOutputs(*(torch.stack(column) for column in zip(*rows)))

    def _capture(self, layer: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self._captured = (args[0], output)

    def _forget(self, model: nn.Module, args: tuple) -> None:
        self._captured = None

    def _attach(self, model: nn.Module, args: tuple, output: Any) -> None:
        if not (isinstance(output, (list, tuple)) and output
                and all(isinstance(sample, BaseDataElement) for sample in output)):
            return  # not mode='predict'
        if self._captured is None:
            raise RuntimeError(f'TrustOutputsHook: the final layer of {type(model.head).__name__} '
                               'did not run in this forward pass')
        features, logits = self._captured
        if logits.size(0) != len(output):
            raise RuntimeError(f'TrustOutputsHook: the final layer gave {logits.size(0)} rows for '
                               f'{len(output)} data samples')
        features, logits = features.detach().float().flatten(1), logits.detach().float()
        for sample, row, feature in zip(output, logits, features):
            sample.set_field(row, TRUST_FIELDS[0])
            sample.set_field(feature, TRUST_FIELDS[1])
        self._captured = None

    def _remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
