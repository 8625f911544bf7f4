"""The fitted trust state of a classifier, saved next to its checkpoint, and applied to a batch.

A :class:`TrustState` holds what :mod:`mmcell.uncertainty` fits for one trained classifier:

- the calibration: a temperature, or a per-class scale and bias (vector scaling);
- the sorted conformal calibration scores of each class (not thresholds: any coverage can be
  chosen when it is applied);
- the class means and shared precision of the pre-logit features (Mahalanobis score);
- score thresholds that accept a share (e.g. 95%) of the validation cells, and which of them
  make a cell unidentified;
- the fingerprint of the model it was fitted for: the class list, the config file name and a
  SHA-256 of the final layer's weights.

It is saved as a torch file of tensors and plain types only, so it loads with
``torch.load(weights_only=True)``, as ``<checkpoint without .pth>.trust.pth``
(:func:`trust_state_path`). :meth:`TrustState.check` refuses a state fitted for another model
(other classes or other final-layer weights); the config name is recorded and shown, not
compared, since configs move.
"""
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .calibration import apply_temperature, apply_vector_scaling, fit_temperature, \
    fit_vector_scaling
from .conformal import calibration_scores, conformal_thresholds, prediction_sets, unidentified
from .outputs import final_layer
from .scores import acceptance_threshold, fit_mahalanobis, mahalanobis, max_softmax, \
    negative_energy

__all__ = ['ModelFingerprint', 'model_fingerprint', 'trust_state_path', 'TrustState']

FORMAT = 'mmcell.trust_state'
VERSION = 1
SCORES = ('max_softmax', 'negative_energy', 'mahalanobis')
PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class ModelFingerprint:
    """What identifies the classifier a trust state belongs to.

    Attributes:
        classes (tuple[str]): The class names, in the order of the logits.
        config (str): The config file name (its base name).
        weights_sha256 (str): SHA-256 of the final layer's weights (see
            :func:`model_fingerprint`).
    """
    classes: Tuple[str, ...]
    config: str
    weights_sha256: str

    def describe(self) -> str:
        """One line naming the classes, the config and the checksum."""
        return (f'classes {list(self.classes)}, config {self.config!r}, final-layer SHA-256 '
                f'{self.weights_sha256}')


def model_fingerprint(model: nn.Module, classes: Sequence[str],
                      config: PathLike = '') -> ModelFingerprint:
    """The fingerprint of a classifier: classes, config name and final-layer checksum.

    The checksum is a SHA-256 over the final linear layer's parameters (weight, then bias),
    each by name, shape and float32 little-endian bytes.

    Args:
        model (nn.Module): An ``ImageClassifier`` (its ``head``) or a head.
        classes (Sequence[str]): The class names, in the order of the logits.
        config (str | PathLike): The config file; only its base name is kept. Defaults to ''.

    Returns:
        ModelFingerprint: The fingerprint.

    Raises:
        TypeError: If the final layer of the head is not known
            (see :func:`~mmcell.uncertainty.outputs.final_layer`).
        ValueError: If the number of classes is not the layer's number of outputs.

    Example:
        >>> import torch
        >>> from mmpretrain.registry import MODELS
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> head = MODELS.build(dict(type='LinearClsHead', num_classes=2, in_channels=4))
        >>> fingerprint = model_fingerprint(head, ['lymphocyte', 'neutrophil'], 'a/b/cfg.py')
        >>> fingerprint.config, len(fingerprint.weights_sha256)
        ('cfg.py', 64)
    """
    head = getattr(model, 'head', model)
    layer = final_layer(head)
    if layer is None:
        raise TypeError(f'the final layer of {type(head).__name__} is not known: cannot '
                        'fingerprint the model')
    if layer.out_features != len(classes):
        raise ValueError(f'{len(classes)} classes for a final layer of {layer.out_features} '
                         'outputs')
    digest = hashlib.sha256()
    for name, tensor in sorted(layer.state_dict().items()):
        values = tensor.detach().to('cpu', torch.float32).contiguous()
        digest.update(f'{name}{tuple(values.shape)}'.encode())
        digest.update(values.numpy().astype('<f4').tobytes())
    return ModelFingerprint(tuple(str(c) for c in classes), Path(config).name if config else '',
                            digest.hexdigest())


def trust_state_path(checkpoint: PathLike) -> Path:
    """Where the trust state of a checkpoint lives: ``<checkpoint without .pth>.trust.pth``.

    Args:
        checkpoint (str | PathLike): The checkpoint file.

    Returns:
        Path: The trust state file beside it.

    Example:
        >>> trust_state_path('work_dirs/cellvit/best_accuracy_epoch_12.pth').as_posix()
        'work_dirs/cellvit/best_accuracy_epoch_12.trust.pth'
    """
    path = Path(checkpoint)
    stem = path.name[:-len('.pth')] if path.name.endswith('.pth') else path.name
    return path.with_name(stem + '.trust.pth')


def _calibrate(logits: torch.Tensor, temperature: float, scale: Optional[torch.Tensor],
               bias: Optional[torch.Tensor]) -> torch.Tensor:
    if scale is not None:
        return apply_vector_scaling(logits, scale, bias)
    return apply_temperature(logits, temperature)


def _tensor(value, name: str, path: str) -> Optional[torch.Tensor]:
    if value is not None and not isinstance(value, torch.Tensor):
        raise ValueError(f'{path}: {name} must be a tensor, got {type(value).__name__}')
    return value


@dataclass
class TrustState:
    """The fitted calibration, conformal scores, Mahalanobis fit and thresholds of one model.

    Fit it with :meth:`fit` on a model's outputs
    (:func:`~mmcell.uncertainty.outputs.collect_outputs`), save it with :meth:`save` next to
    the checkpoint, and at inference :meth:`load` it, :meth:`check` it against the model and
    :meth:`apply` it to each batch.

    Attributes:
        fingerprint (ModelFingerprint): The model it was fitted for.
        conformal_scores (list[Tensor]): Per class, the sorted scores ``1 - p(true class)`` of
            the calibration cells.
        coverage (float): Default coverage of the prediction sets. Defaults to 0.95.
        temperature (float): Temperature of temperature scaling. Defaults to 1.
        vector_scale (Tensor, optional): Per-class scale of vector scaling (used instead of
            the temperature when set). Defaults to None.
        vector_bias (Tensor, optional): Per-class bias of vector scaling. Defaults to None.
        energy_temperature (float): Temperature of the energy score. Defaults to 1.
        mahalanobis_means (Tensor, optional): Class means of the pre-logit features, (C, D).
        mahalanobis_precision (Tensor, optional): Their shared precision, (D, D).
        thresholds (dict[str, float]): Score name -> threshold accepting ``accept`` of the
            validation cells.
        accept (float, optional): That share. Defaults to None.
        reject_by (tuple[str]): The scores whose threshold makes a cell unidentified (besides
            a prediction set that is not one class). Defaults to ().
        confusion (Tensor, optional): The validation cells by true class (rows) and the
            state's answer at ``coverage`` (columns: the classes, then unidentified), (C, C + 1);
            what :func:`~mmcell.uncertainty.correct_counts` corrects counts with. Defaults to
            None (counts cannot be corrected).
        source (str): The file it was loaded from ('' if none); for messages.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.arange(200) % 2
        >>> logits = 4 * torch.nn.functional.one_hot(labels, 2) + torch.randn(200, 2, generator=g)
        >>> fingerprint = ModelFingerprint(('lymphocyte', 'neutrophil'), 'cfg.py', '0' * 64)
        >>> state = TrustState.fit(fingerprint, logits, labels, coverage=0.9)
        >>> out = state.apply(torch.tensor([[5., 0.], [0.5, 0.5]]))
        >>> out['prediction'].tolist(), out['unidentified'].tolist()
        ([0, -1], [False, True])
        >>> sorted(out['scores'])
        ['max_softmax', 'negative_energy']
    """
    fingerprint: ModelFingerprint
    conformal_scores: List[torch.Tensor]
    coverage: float = 0.95
    temperature: float = 1.0
    vector_scale: Optional[torch.Tensor] = None
    vector_bias: Optional[torch.Tensor] = None
    energy_temperature: float = 1.0
    mahalanobis_means: Optional[torch.Tensor] = None
    mahalanobis_precision: Optional[torch.Tensor] = None
    thresholds: Dict[str, float] = field(default_factory=dict)
    accept: Optional[float] = None
    reject_by: Tuple[str, ...] = ()
    confusion: Optional[torch.Tensor] = None
    source: str = ''

    def __post_init__(self) -> None:
        unknown = set(self.reject_by) - set(self.thresholds)
        if unknown:
            raise ValueError(f'reject_by names scores without a threshold: {sorted(unknown)} '
                             f'(thresholds: {sorted(self.thresholds)})')
        if len(self.conformal_scores) != len(self.fingerprint.classes):
            raise ValueError(f'conformal scores of {len(self.conformal_scores)} classes for '
                             f'{len(self.fingerprint.classes)} classes')
        conformal_thresholds(self.conformal_scores, self.coverage, self.fingerprint.classes)
        num_classes = len(self.fingerprint.classes)
        if self.confusion is not None and tuple(self.confusion.shape) != (num_classes,
                                                                           num_classes + 1):
            raise ValueError(f'the confusion matrix must be ({num_classes}, {num_classes + 1}) '
                             f'for {num_classes} classes and unidentified, got '
                             f'{tuple(self.confusion.shape)}')

    @property
    def calibration(self) -> str:
        """``'vector'`` (vector scaling) or ``'temperature'``."""
        return 'vector' if self.vector_scale is not None else 'temperature'

    @classmethod
    def fit(cls,
            fingerprint: ModelFingerprint,
            val_logits: torch.Tensor,
            val_labels: torch.Tensor,
            train_features: Optional[torch.Tensor] = None,
            train_labels: Optional[torch.Tensor] = None,
            val_features: Optional[torch.Tensor] = None,
            calibration: str = 'temperature',
            coverage: float = 0.95,
            accept: Optional[float] = 0.95,
            reject_by: Optional[Sequence[str]] = None,
            conformal_logits: Optional[torch.Tensor] = None,
            conformal_labels: Optional[torch.Tensor] = None,
            ridge: float = 1e-3) -> 'TrustState':
        """Fit a trust state on validation (and training) outputs of the model.

        The calibration is fitted on the validation logits; the conformal scores are those of
        ``conformal_logits`` if given, else of the validation logits too. Conformal coverage
        holds exactly when the cells it is calibrated on were not used to fit the calibration;
        with a single temperature the effect of reusing them is small, but pass a separate
        split as ``conformal_*`` where there are enough cells.

        Args:
            fingerprint (ModelFingerprint): From :func:`model_fingerprint`.
            val_logits (Tensor): Validation logits, (N, C).
            val_labels (Tensor): Their classes, (N,).
            train_features (Tensor, optional): Pre-logit features of training cells, for the
                Mahalanobis score. Defaults to None (no Mahalanobis score).
            train_labels (Tensor, optional): Their classes.
            val_features (Tensor, optional): Pre-logit features of the validation cells, for
                the Mahalanobis threshold. Defaults to None (no threshold for it).
            calibration (str): ``'temperature'``, ``'vector'`` or ``'none'``. Defaults to
                ``'temperature'``.
            coverage (float): Default coverage of the prediction sets. Defaults to 0.95.
            accept (float, optional): Share of validation cells each score threshold accepts.
                Defaults to 0.95; None fits no thresholds.
            reject_by (Sequence[str], optional): Scores whose threshold makes a cell
                unidentified. Defaults to None: ``('mahalanobis',)`` when its threshold is
                fitted (it catches unfamiliar cells the softmax is confident about), else none.
            conformal_logits (Tensor, optional): Separate conformal calibration logits.
            conformal_labels (Tensor, optional): Their classes.
            ridge (float): Relative ridge of the Mahalanobis covariance. Defaults to 1e-3.

        Returns:
            TrustState: The fitted state.

        Raises:
            ValueError: If ``calibration`` is unknown, a class has too few conformal
                calibration cells for ``coverage``, or as the fitting functions.
        """
        if calibration not in ('temperature', 'vector', 'none'):
            raise ValueError(f"calibration must be 'temperature', 'vector' or 'none', got "
                             f'{calibration!r}')
        val_logits = torch.as_tensor(val_logits).float()
        num_classes = len(fingerprint.classes)
        if val_logits.dim() != 2 or val_logits.size(1) != num_classes:
            raise ValueError(f'logits must be (N, {num_classes}) for the classes '
                             f'{list(fingerprint.classes)}, got {tuple(val_logits.shape)}')
        kwargs = dict(fingerprint=fingerprint, coverage=coverage)
        if calibration == 'temperature':
            kwargs['temperature'] = fit_temperature(val_logits, val_labels)
        elif calibration == 'vector':
            kwargs['vector_scale'], kwargs['vector_bias'] = fit_vector_scaling(
                val_logits, val_labels)

        def calibrate(logits):
            return _calibrate(torch.as_tensor(logits).float(), kwargs.get('temperature', 1.0),
                              kwargs.get('vector_scale'), kwargs.get('vector_bias'))

        if conformal_logits is None:
            conformal_logits, conformal_labels = val_logits, val_labels
        kwargs['conformal_scores'] = calibration_scores(calibrate(conformal_logits),
                                                        conformal_labels, num_classes)
        if train_features is not None:
            fit = fit_mahalanobis(train_features, train_labels, num_classes, ridge)
            kwargs['mahalanobis_means'], kwargs['mahalanobis_precision'] = fit
        thresholds = {}
        if accept is not None:
            scores = dict(max_softmax=calibrate(val_logits).max(dim=1).values,
                          negative_energy=negative_energy(val_logits))
            if val_features is not None and 'mahalanobis_means' in kwargs:
                scores['mahalanobis'] = mahalanobis(
                    val_features, kwargs['mahalanobis_means'], kwargs['mahalanobis_precision'])
            thresholds = {name: acceptance_threshold(value, accept)
                          for name, value in scores.items()}
        if reject_by is None:
            reject_by = ('mahalanobis', ) if 'mahalanobis' in thresholds else ()
        state = cls(thresholds=thresholds, accept=accept, reject_by=tuple(reject_by), **kwargs)
        state.confusion = state.confusion_matrix(val_logits, val_labels, val_features)
        return state

    def calibrate(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities of a batch of logits, (N, C).

        Args:
            logits (Tensor): (N, C).

        Returns:
            Tensor: Probabilities.
        """
        return _calibrate(logits, self.temperature, self.vector_scale, self.vector_bias)

    def conformal_thresholds(self, coverage: Optional[float] = None) -> torch.Tensor:
        """Per-class thresholds on ``1 - p`` for ``coverage`` (default: the state's), (C,).

        Raises:
            ValueError: As :func:`~mmcell.uncertainty.conformal.conformal_thresholds`.
        """
        return conformal_thresholds(self.conformal_scores,
                                    self.coverage if coverage is None else coverage,
                                    self.fingerprint.classes)

    def scores(self, logits: torch.Tensor,
               features: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """The trust scores of a batch (higher = more trustworthy), each (N,).

        ``max_softmax`` of the calibrated probabilities, ``negative_energy`` of the logits
        and, with ``features`` and a Mahalanobis fit, ``mahalanobis``.

        Args:
            logits (Tensor): (N, C).
            features (Tensor, optional): Pre-logit features, (N, D). Defaults to None.

        Returns:
            dict[str, Tensor]: Score name -> scores.
        """
        logits = torch.as_tensor(logits).float()
        if self.vector_scale is not None:
            calibrated = logits * self.vector_scale.to(logits) + self.vector_bias.to(logits)
            msp = max_softmax(calibrated)
        else:
            msp = max_softmax(logits, self.temperature)
        out = dict(max_softmax=msp, negative_energy=negative_energy(logits,
                                                                    self.energy_temperature))
        if features is not None and self.mahalanobis_means is not None:
            out['mahalanobis'] = mahalanobis(features, self.mahalanobis_means,
                                             self.mahalanobis_precision).float()
        return out

    def apply(self, logits: torch.Tensor, features: Optional[torch.Tensor] = None,
              coverage: Optional[float] = None) -> Dict[str, object]:
        """Calibrated probabilities, prediction sets, unidentified cells and scores of a batch.

        A cell is unidentified when its prediction set is not exactly one class, or a score in
        ``reject_by`` falls below its threshold.

        Args:
            logits (Tensor): (N, C).
            features (Tensor, optional): Pre-logit features, (N, D); needed when
                ``'mahalanobis'`` is in ``reject_by``. Defaults to None.
            coverage (float, optional): Coverage of the sets. Defaults to None (the state's).

        Returns:
            dict: ``probs`` (N, C); ``prediction_set`` (N, C) bool; ``unidentified`` (N,)
            bool; ``prediction`` (N,) int64, the class of an identified cell, -1 for an
            unidentified one; ``scores``, a dict of (N,) tensors (see :meth:`scores`).

        Raises:
            ValueError: If the logits do not have one column per class, ``features`` are
                missing while a Mahalanobis threshold rejects, or as :meth:`conformal_thresholds`.
        """
        logits = torch.as_tensor(logits).float()
        if logits.dim() != 2 or logits.size(1) != len(self.fingerprint.classes):
            raise ValueError(f'logits must be (N, {len(self.fingerprint.classes)}), got '
                             f'{tuple(logits.shape)}')
        probs = self.calibrate(logits)
        sets = prediction_sets(probs, self.conformal_thresholds(coverage))
        scores = self.scores(logits, features)
        rejected = unidentified(sets)
        for name in self.reject_by:
            if name not in scores:
                raise ValueError(f'this trust state rejects cells by {name!r}, which needs the '
                                 'pre-logit features: pass features')
            rejected |= scores[name] < self.thresholds[name]
        prediction = torch.where(rejected, torch.full_like(rejected, -1, dtype=torch.long),
                                 sets.long().argmax(dim=1))
        return dict(probs=probs, prediction_set=sets, unidentified=rejected,
                    prediction=prediction, scores=scores)

    def confusion_matrix(self, logits: torch.Tensor, labels: torch.Tensor,
                         features: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Cells by true class and the state's answer at its coverage (:meth:`apply`).

        Args:
            logits (Tensor): (N, C).
            labels (Tensor): Their true classes, (N,).
            features (Tensor, optional): Pre-logit features, as for :meth:`apply`.

        Returns:
            Tensor: (C, C + 1) int64 counts; the last column holds the unidentified cells.
        """
        num_classes = len(self.fingerprint.classes)
        prediction = self.apply(logits, features)['prediction']
        given = torch.where(prediction < 0, num_classes, prediction)
        index = torch.as_tensor(labels).long() * (num_classes + 1) + given
        return torch.bincount(index, minlength=num_classes * (num_classes + 1)).view(
            num_classes, num_classes + 1)

    def check(self, fingerprint: ModelFingerprint) -> None:
        """Refuse a model other than the one this state was fitted for.

        Args:
            fingerprint (ModelFingerprint): The model's, from :func:`model_fingerprint`.

        Raises:
            ValueError: If the classes or the final-layer checksum differ, naming both.
        """
        mine = self.fingerprint
        if (tuple(fingerprint.classes) == mine.classes
                and fingerprint.weights_sha256 == mine.weights_sha256):
            return
        what = ' and '.join(
            part for part, same in (('classes', tuple(fingerprint.classes) == mine.classes),
                                    ('final-layer weights', fingerprint.weights_sha256 ==
                                     mine.weights_sha256)) if not same)
        where = f' {self.source}' if self.source else ''
        theirs = ModelFingerprint(tuple(fingerprint.classes), fingerprint.config,
                                  fingerprint.weights_sha256)
        raise ValueError(f'the trust state{where} was fitted for another model (the {what} '
                         f'differ): it was fitted for {mine.describe()}; this model has '
                         f'{theirs.describe()}. Fit a trust state for this checkpoint.')

    def to_dict(self) -> dict:
        """The state as tensors and plain types (what :meth:`save` writes)."""

        def cpu(t):
            return None if t is None else t.detach().cpu().clone()

        return dict(
            format=FORMAT, version=VERSION, classes=list(self.fingerprint.classes),
            config=self.fingerprint.config, weights_sha256=self.fingerprint.weights_sha256,
            conformal_scores=[cpu(s) for s in self.conformal_scores],
            coverage=float(self.coverage), temperature=float(self.temperature),
            vector_scale=cpu(self.vector_scale), vector_bias=cpu(self.vector_bias),
            energy_temperature=float(self.energy_temperature),
            mahalanobis_means=cpu(self.mahalanobis_means),
            mahalanobis_precision=cpu(self.mahalanobis_precision),
            thresholds={k: float(v) for k, v in self.thresholds.items()},
            accept=None if self.accept is None else float(self.accept),
            reject_by=list(self.reject_by), confusion=cpu(self.confusion))

    def save(self, path: PathLike) -> Path:
        """Write the state (atomically) as a torch file of tensors and plain types.

        Args:
            path (str | PathLike): The file, usually :func:`trust_state_path` of the checkpoint.

        Returns:
            Path: The file written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + '.partial')
        torch.save(self.to_dict(), partial)
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, path: PathLike) -> 'TrustState':
        """Read a state written by :meth:`save` (with ``torch.load(weights_only=True)``).

        Args:
            path (str | PathLike): The file.

        Returns:
            TrustState: The state, with ``source`` set to the file.

        Raises:
            FileNotFoundError: If there is no such file (naming it).
            ValueError: If the file is not a trust state of this format (naming it).
        """
        path = str(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'no trust state file at {path} (fit one for the checkpoint '
                                    'and save it there)')
        try:
            data = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as err:  # unpickling, zip and EOF errors alike
            raise ValueError(f'{path} is not a readable trust state file: '
                             f'{type(err).__name__}: {err}') from err
        if not isinstance(data, dict) or data.get('format') != FORMAT:
            raise ValueError(f'{path} is not an mmcell trust state file (no '
                             f'format={FORMAT!r} in it)')
        if data.get('version') != VERSION:
            raise ValueError(f'{path} is a trust state of version {data.get("version")!r}; this '
                             f'mmcell reads version {VERSION}')
        try:
            scores = data['conformal_scores']
            if not isinstance(scores, list) or not all(isinstance(s, torch.Tensor)
                                                       for s in scores):
                raise ValueError('conformal_scores must be a list of tensors')
            fingerprint = ModelFingerprint(tuple(str(c) for c in data['classes']),
                                           str(data['config']), str(data['weights_sha256']))
            state = cls(
                fingerprint=fingerprint, conformal_scores=scores,
                coverage=float(data['coverage']), temperature=float(data['temperature']),
                vector_scale=_tensor(data['vector_scale'], 'vector_scale', path),
                vector_bias=_tensor(data['vector_bias'], 'vector_bias', path),
                energy_temperature=float(data['energy_temperature']),
                mahalanobis_means=_tensor(data['mahalanobis_means'], 'mahalanobis_means', path),
                mahalanobis_precision=_tensor(data['mahalanobis_precision'],
                                              'mahalanobis_precision', path),
                thresholds={str(k): float(v) for k, v in dict(data['thresholds']).items()},
                accept=None if data['accept'] is None else float(data['accept']),
                reject_by=tuple(str(s) for s in data['reject_by']),
                confusion=_tensor(data.get('confusion'), 'confusion', path), source=path)
        except (KeyError, TypeError, ValueError) as err:
            missing = f'no {err}' if isinstance(err, KeyError) else str(err)
            raise ValueError(f'{path} is a malformed trust state file: {missing}') from err
        return state
