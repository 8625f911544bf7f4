"""Adapt a trained classifier to a lab's own cells: a short fine-tune on a few labelled crops.

The cells come as an mmpretrain annotation list (:func:`mmcell.review.write_annotation_list`);
the fine-tune keeps the classifier's config (model, label space, training pipeline) and merges
the schedule of ``configs/_base_/schedules/adaptation.py`` onto it (:func:`adaptation_config`):
the checkpoint's weights, AdamW with cosine decay over a fixed number of iterations, one
checkpoint at the end. What a fine-tune trains (``train``) is the backbone's ``frozen_stages``
(:func:`frozen_stages_for`; mmpretrain's ResNets, ``VisionTransformer``, mmcell's
``EfficientNetLite`` and ``ConvTokenViT`` have it); the neck and the head always train:

* ``'all'``: everything (the best measured from PBC to BCCD, for CellViT and ResNet-50);
* ``'last-stage'``: the head and the backbone's last stage (ResNet's ``layer4``, CellViT's
  last stage with the CLS token, EfficientNetLite's last layer: the 1x1 head conv);
* ``'head'``: the head only (for CellViT's sparse head this includes its part layer, the
  last encoder layer); the backbone is frozen, so a step costs about one forward pass;
* ``'linear'``: the head's final linear layer alone, fitted on the frozen model's features of
  the cells (:func:`fit_linear_head`: one forward pass over the cells, then a full-batch fit; no
  augmentation, no Runner): seconds. For heads that score ``fc(pre_logits(feats))``
  (``LinearClsHead`` and its kin, CellViT's ``SparseAttentionHead``).

Accuracy, macro F1 and recall (:func:`evaluate_crops`) are those of ``tools/test.py``'s report
(:func:`mmcell.evaluation.report_rows`) over the classes the cells hold.
"""
import math
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config

from mmcell.evaluation import report_rows

__all__ = ['LEARNING_RATES', 'SCHEDULE', 'TRAIN_PARTS', 'adaptation_config', 'evaluate_crops',
           'finetune', 'fit_linear_head', 'frozen_stages_for', 'held_class_summary',
           'iterations_for', 'reestimate_batchnorm']

TRAIN_PARTS = ('linear', 'head', 'last-stage', 'all')
# AdamW's learning rate by what trains.
LEARNING_RATES = {'head': 1e-3, 'last-stage': 3e-4, 'all': 1e-4}
SCHEDULE = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'schedules' / \
    'adaptation.py'


def frozen_stages_for(backbone_cfg: Dict, train: str) -> Optional[int]:
    """The backbone's ``frozen_stages`` for a fine-tune that trains ``train``.

    ``'head'`` freezes every stage, ``'last-stage'`` every stage but the last, ``'all'`` leaves
    the backbone as its config has it. The backbone says how many stages it has: it is built
    (its weights are not loaded) and read: ``num_stages`` (mmpretrain's ResNets,
    ``ConvTokenViT``), else the length of its ``layers`` (``EfficientNetLite``: stem, seven
    stages, head conv; ``VisionTransformer``: its encoder layers).

    Args:
        backbone_cfg (dict): The model's ``backbone`` config (mmpretrain's registry).
        train (str): ``'head'``, ``'last-stage'`` or ``'all'``.

    Returns:
        int | None: ``frozen_stages``; None for ``'all'``.

    Raises:
        ValueError: The backbone has no ``frozen_stages`` (or no count of stages): it is
            named, with the fine-tunes that remain (``train='all'``, or ``'linear'``).

    Example:
        >>> import mmcell  # registers ConvTokenViT and EfficientNetLite
        >>> frozen_stages_for(dict(type='ResNet', depth=18), 'last-stage')
        3
        >>> frozen_stages_for(dict(type='ConvTokenViT', arch='cvt-13'), 'head')
        3
        >>> frozen_stages_for(dict(type='EfficientNetLite'), 'last-stage')
        8
        >>> frozen_stages_for(dict(type='LeNet5'), 'head')
        Traceback (most recent call last):
        ...
        ValueError: a LeNet5 backbone has no frozen_stages, so mmcell cannot freeze part of it: ...
    """
    if train == 'all':
        return None
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        backbone = MODELS.build(backbone_cfg)
    stages = getattr(backbone, 'num_stages', None) or len(getattr(backbone, 'layers', ()))
    if not hasattr(backbone, 'frozen_stages') or not stages:
        raise ValueError(f'a {type(backbone).__name__} backbone has no frozen_stages, so mmcell '
                         "cannot freeze part of it: fine-tune it with train='all' (or 'linear' "
                         'for a linear head)')
    return {'head': stages, 'last-stage': stages - 1}[train]


def adaptation_config(cfg: Config, checkpoint: str, ann_file: Union[str, Path],
                      classes: Sequence[str], work_dir: Union[str, Path], train: str = 'all',
                      iters: int = 150, lr: Optional[float] = None, batch_size: int = 16,
                      seed: int = 0, log_level: str = 'INFO',
                      schedule: Union[str, Path] = SCHEDULE) -> Config:
    """A classifier's config turned into its fine-tune on an annotation list.

    ``schedule`` is merged onto the classifier's config, then the arguments, as
    ``--cfg-options`` would be (``Config.merge_from_dict``).

    Args:
        cfg (mmengine.Config): The classifier's config (its model and training pipeline stay).
        checkpoint (str): The weights to start from.
        ann_file (str | Path): mmpretrain annotation list with absolute image paths.
        classes (Sequence[str]): The classifier's classes (the list's indices).
        work_dir (str | Path): Where the fine-tune writes.
        train (str): ``'all'``, ``'last-stage'`` or ``'head'`` (see the module). Defaults to
            ``'all'``, the best measured on BCCD's white cells for CellViT and ResNet-50.
        iters (int): Training iterations. Defaults to 150.
        lr (float, optional): AdamW's learning rate. Defaults to None: by ``train``
            (:data:`LEARNING_RATES`: 1e-3 for the head, 3e-4 with the last stage, 1e-4 for all).
        batch_size (int): Defaults to 16.
        seed (int): Defaults to 0.
        log_level (str): The Runner's log level (``'WARNING'``: no per-iteration lines).
            Defaults to ``'INFO'``.
        schedule (str | Path): The fine-tune's schedule config. Defaults to
            ``configs/_base_/schedules/adaptation.py``.

    Returns:
        mmengine.Config: A config for ``Runner.from_cfg``.

    Raises:
        ValueError: ``train`` is not one of ``'head'``, ``'last-stage'``, ``'all'``; the config
            has no training pipeline; or the backbone cannot freeze part of itself
            (:func:`frozen_stages_for`).

    Example:
        >>> from mmcell.utils import load_config
        >>> cfg = load_config('configs/baselines/resnet50_pbc_quick.py')
        >>> classes = ['basophil', 'eosinophil', 'erythroblast', 'ig', 'lymphocyte',
        ...            'monocyte', 'neutrophil', 'platelet']
        >>> tuned = adaptation_config(cfg, 'epoch_8.pth', 'train.txt', classes, 'work_dirs/a',
        ...                           train='last-stage', iters=60)
        >>> tuned.model.backbone.frozen_stages, tuned.optim_wrapper.optimizer
        (3, {'type': 'AdamW', 'lr': 0.0003, 'weight_decay': 0.05})
    """
    if train not in LEARNING_RATES:
        raise ValueError(f'train must be one of {tuple(LEARNING_RATES)} (\'linear\' is '
                         f'fit_linear_head), got {train!r}')
    dataset = cfg.train_dataloader.dataset
    while 'pipeline' not in dataset and 'dataset' in dataset:  # e.g. ClassBalancedDataset
        dataset = dataset.dataset
    pipeline = dataset.get('pipeline', cfg.get('train_pipeline'))
    if not pipeline:
        raise ValueError(f'{cfg.filename} has no training pipeline (train_dataloader.dataset.'
                         'pipeline or train_pipeline) for the fine-tune to use')
    tuned = Config(cfg.to_dict(), filename=cfg.filename)
    tuned.merge_from_dict(Config.fromfile(schedule).to_dict())
    options = {
        'train_dataloader.batch_size': batch_size,
        'train_dataloader.dataset': dict(type='CustomDataset', ann_file=str(ann_file),
                                         data_prefix='', classes=list(classes),
                                         pipeline=pipeline),
        'train_cfg.max_iters': iters,
        'param_scheduler.0.end': iters,
        'optim_wrapper.optimizer.lr': LEARNING_RATES[train] if lr is None else lr,
        'default_hooks.checkpoint.interval': iters,
        'default_hooks.logger.interval': max(1, iters // 10),
        'load_from': str(checkpoint),
        'randomness.seed': seed,
        'log_level': log_level,
        'work_dir': str(work_dir),
    }
    frozen_stages = frozen_stages_for(tuned.model.backbone, train)
    if frozen_stages is not None:
        options['model.backbone.frozen_stages'] = frozen_stages
    tuned.merge_from_dict(options)
    return tuned


def finetune(cfg: Config, checkpoint: str, ann_file: Union[str, Path], classes: Sequence[str],
             work_dir: Union[str, Path], **kwargs) -> Path:
    """Fine-tune a classifier on an annotation list; return the new checkpoint.

    Args:
        cfg (mmengine.Config): The classifier's config.
        checkpoint (str): Its weights.
        ann_file (str | Path): The annotation list (absolute paths).
        classes (Sequence[str]): Its classes.
        work_dir (str | Path): Where the run writes.
        **kwargs: :func:`adaptation_config`'s ``train``, ``iters``, ``lr``, ``batch_size``,
            ``seed``, ``log_level``, ``schedule``.

    Returns:
        Path: ``<work_dir>/iter_<iters>.pth`` (e.g. ``finetune(cfg, 'epoch_8.pth', 'train.txt',
        classes, 'work_dirs/a', train='head', iters=60)``).
    """
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from mmcell.compat import safe_checkpoint_loading
    tuned = adaptation_config(cfg, checkpoint, ann_file, classes, work_dir, **kwargs)
    with DefaultScope.overwrite_default_scope('mmpretrain'), safe_checkpoint_loading():
        runner = Runner.from_cfg(tuned)
        runner.train()
    return Path(work_dir) / f'iter_{tuned.train_cfg.max_iters}.pth'


def fit_linear_head(classifier, crops: Sequence[Union[str, np.ndarray]], labels: Sequence[str],
                    out: Union[str, Path], weight_decay: float = 1.0, max_iter: int = 200,
                    batch_size: int = 32) -> Path:
    """Refit a classifier's final linear layer on its frozen features of labelled cells.

    The cells go through the classifier's test pipeline and its backbone and neck once, in eval
    mode; the head's linear layer (``head.fc``) is then fitted to them with full-batch L-BFGS on
    cross-entropy plus ``weight_decay`` times the squared distance from its starting weights
    (which keeps the classes that the cells do not hold where they were). Nothing else changes,
    and the classifier itself is left as it was: the result is a new checkpoint.

    Args:
        classifier (CellClassificationInferencer): From :mod:`mmcell.apis`.
        crops (Sequence[str | np.ndarray]): Cell images (paths or BGR arrays).
        labels (Sequence[str]): Their classes (names of the classifier's classes).
        out (str | Path): Where the new checkpoint goes (its folder is made).
        weight_decay (float): Pull toward the starting weights. Defaults to 1.0: measured
            on BCCD (k = 20, the default classifier), 1e-3 gives 77.7% on the other BCCD cells
            but leaves 63.5% on PBC's test split (from 94.4%); 1.0 gives 75.6% and keeps 85.4%.
        max_iter (int): L-BFGS iterations. Defaults to 200.
        batch_size (int): Cells per forward pass. Defaults to 32.

    Returns:
        Path: ``out``: a checkpoint of the whole model (``state_dict`` and ``meta`` with the
        classes) whose only change is ``head.fc``.

    Raises:
        ValueError: The head does not score ``head.fc(head.pre_logits(feats))`` (as
            ``LinearClsHead`` and CellViT's ``SparseAttentionHead`` do), or a label is not a
            class of the classifier.

    Example:
        >>> from mmcell.apis import CellClassificationInferencer
        >>> classifier = CellClassificationInferencer(config, checkpoint)  # doctest: +SKIP
        >>> fit_linear_head(classifier, crops, labels, 'work_dirs/a/linear.pth')  # doctest: +SKIP
        PosixPath('work_dirs/a/linear.pth')
    """
    model = classifier.model
    head = model.head
    if not (isinstance(getattr(head, 'fc', None), torch.nn.Linear) and hasattr(head, 'pre_logits')):
        raise ValueError(f'{type(head).__name__} has no final linear layer (head.fc after '
                         "pre_logits): fit it with train='head', 'last-stage' or 'all'")
    classes = list(classifier.classes)
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ValueError(f'labels {unknown} are not classes of the classifier {classes}')
    target = torch.tensor([classes.index(label) for label in labels])
    model.eval()
    features = []
    with torch.no_grad():
        for data in classifier.preprocess(list(crops), batch_size=batch_size):
            data = model.data_preprocessor(data, False)
            feats = model.extract_feat(data['inputs'])
            features.append(head.pre_logits(feats).float())
            if len(features) == 1 and not torch.allclose(head(feats).float(),
                                                         head.fc(features[0]), atol=1e-4):
                raise ValueError(f'{type(head).__name__} does not score fc(pre_logits(x)): '
                                 "fit it with train='head', 'last-stage' or 'all'")
    features = torch.cat(features)
    fc = head.fc
    start = [fc.weight.detach().clone(), fc.bias.detach().clone()]
    weight, bias = (p.detach().clone().float().requires_grad_() for p in start)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn='strong_wolfe')

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(features @ weight.T + bias, target)
        loss = loss + weight_decay * ((weight - start[0]).square().sum()
                                      + (bias - start[1]).square().sum())
        loss.backward()
        return loss

    optimizer.step(closure)
    state = model.state_dict()
    state.update({'head.fc.weight': weight.detach().to(fc.weight.dtype),
                  'head.fc.bias': bias.detach().to(fc.bias.dtype)})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(meta=dict(dataset_meta=dict(classes=classes)), state_dict=state), out)
    return out


def reestimate_batchnorm(model: torch.nn.Module, batches: Iterable[dict]) -> int:
    """Every BatchNorm layer of a classifier takes its running statistics anew from batches.

    Label-free adaptation to a lab: each layer forgets its running mean and variance and takes
    the average of the batches' statistics (the images' own, when the batches are equal); the
    rest of the model runs in eval mode and no weight changes. The model is left in eval mode,
    its momenta as they were. For an inferencer's cells:
    ``reestimate_batchnorm(classifier.model, classifier.preprocess(crops, batch_size=32))``.

    Args:
        model (nn.Module): An mmpretrain classifier (``data_preprocessor``, ``extract_feat``).
        batches (Iterable[dict]): Data batches as a dataloader or an inferencer's
            ``preprocess`` gives them (``inputs``, optionally ``data_samples``).

    Returns:
        int: How many BatchNorm layers were re-estimated.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over all batches
        m.train()
    try:
        with torch.no_grad():
            for data in batches:
                model.extract_feat(model.data_preprocessor(data, False)['inputs'])
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()
    return len(norms)


def evaluate_crops(classifier, crops: Sequence[Union[str, np.ndarray]], labels: Sequence[str],
                   batch_size: int = 32) -> Dict:
    """A classifier's figures on labelled cells: :func:`held_class_summary` of its predictions.

    Args:
        classifier (CellClassificationInferencer): From :mod:`mmcell.apis`.
        crops (Sequence[str | np.ndarray]): Cell images (paths or BGR arrays).
        labels (Sequence[str]): Their true classes (names of the classifier's classes).
        batch_size (int): Defaults to 32.

    Returns:
        dict: :func:`held_class_summary`'s ``cells``, ``accuracy``, ``macro_f1`` and
        ``recall``, and ``predicted`` (one class name per cell).

    Example:
        >>> from mmcell.apis import CellClassificationInferencer
        >>> classifier = CellClassificationInferencer(config, checkpoint)  # doctest: +SKIP
        >>> evaluate_crops(classifier, ['a.png', 'b.png'], ['neutrophil', 'lymphocyte'])
        ... # doctest: +SKIP
        {'cells': 2, 'accuracy': 50.0, 'macro_f1': 33.33, 'recall': {...}, 'predicted': [...]}
    """
    predicted = [result['pred_class'] for result in classifier(list(crops),
                                                                 batch_size=batch_size)]
    return dict(held_class_summary(predicted, labels, classifier.classes), predicted=predicted)


def held_class_summary(predicted: Sequence[str], labels: Sequence[str],
                       classes: Sequence[str]) -> Dict:
    """Accuracy, macro F1 and recall of predictions, over the classes the cells hold.

    The rows of ``tools/test.py``'s report (:func:`mmcell.evaluation.report_rows`), summed up as
    ``tools/analysis_tools/cross_domain.py``'s table does: a class that no cell holds is left
    out of the macro F1 and the recalls.

    Args:
        predicted (Sequence[str]): Each cell's predicted class.
        labels (Sequence[str]): Each cell's true class.
        classes (Sequence[str]): The classifier's classes.

    Returns:
        dict: ``cells``, ``accuracy`` and ``macro_f1`` (percentages, to 2 decimals) and
        ``recall`` (class -> percentage, for the classes the cells hold).

    Example:
        >>> r = held_class_summary(['a', 'a', 'b', 'b'], ['a', 'b', 'b', 'b'], ['a', 'b', 'c'])
        >>> r['accuracy'], r['macro_f1'], r['recall']
        (75.0, 73.33, {'a': 100.0, 'b': 66.67})
    """
    classes = list(classes)
    rows, _ = report_rows(torch.tensor([classes.index(p) for p in predicted]),
                          torch.tensor([classes.index(t) for t in labels]), classes)
    held = [row for row in rows[:len(classes)] if row['support'] > 0]
    return dict(cells=len(labels), accuracy=round(rows[len(classes)]['f1-score'], 2),
                macro_f1=round(sum(row['f1-score'] for row in held) / len(held), 2),
                recall={row['name']: round(row['recall'], 2) for row in held})


def iterations_for(cells: int, batch_size: int = 16, epochs: float = 30,
                   least: int = 60) -> int:
    """Iterations that show each cell about ``epochs`` times, and at least ``least``.

    Args:
        cells (int): Cells to train on.
        batch_size (int): Defaults to 16.
        epochs (float): Passes over the cells. Defaults to 30.
        least (int): The fewest iterations. Defaults to 60.

    Returns:
        int: ``max(least, ceil(epochs * cells / batch_size))``.

    Example:
        >>> iterations_for(100), iterations_for(10)
        (188, 60)
    """
    return max(least, math.ceil(epochs * cells / batch_size))
