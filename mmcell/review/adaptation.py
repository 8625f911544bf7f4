"""Adapt a trained classifier to a lab's own cells: a short fine-tune on a few labelled crops.

The cells come as an mmpretrain annotation list (:func:`mmcell.review.write_annotation_list`);
the fine-tune keeps the classifier's config (model, label space, training pipeline) and changes
only the schedule: the checkpoint's weights, part of the model trained (:class:`FreezeHook`),
AdamW with cosine decay over a fixed number of iterations, one checkpoint at the end. What a
fine-tune trains (``train``):

* ``'all'``: everything (the best measured from PBC to BCCD, for CellViT and ResNet-50);
* ``'last-stage'``: the head and the backbone's last stage (:func:`last_stage_prefixes`);
* ``'head'``: the head only (for CellViT's sparse head this includes its part layer, the
  last encoder layer); the backbone is frozen, so a step costs about one forward pass;
* ``'linear'``: the head's final linear layer alone, fitted on the frozen model's features of
  the cells (:func:`fit_linear_head`: one forward pass over the cells, then a full-batch fit; no
  augmentation, no Runner): seconds. For heads that score ``fc(pre_logits(feats))``
  (``LinearClsHead`` and its kin, CellViT's ``SparseAttentionHead``).
"""
import math
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config

__all__ = ['TRAIN_PARTS', 'adaptation_config', 'evaluate_crops', 'finetune', 'fit_linear_head',
           'iterations_for', 'last_stage_prefixes', 'reestimate_batchnorm', 'score_predictions',
           'stratified_split']

TRAIN_PARTS = ('linear', 'head', 'last-stage', 'all')


def last_stage_prefixes(backbone_cfg: Dict) -> List[str]:
    """Parameter-name prefixes of a backbone's last stage (and what follows it in the backbone).

    Args:
        backbone_cfg (dict): The model's ``backbone`` config.

    Returns:
        list[str]: Prefixes under ``backbone.``.

    Raises:
        ValueError: mmcell does not know where this backbone's last stage is (use
            ``train='head'`` or ``'all'``).

    Example:
        >>> last_stage_prefixes(dict(type='ResNet', depth=50))
        ['backbone.layer4']
        >>> last_stage_prefixes(dict(type='ConvTokenViT', arch='cvt-13'))[:2]
        ['backbone.stages.2', 'backbone.embeds.2']
    """
    kind = backbone_cfg.get('type', '')
    kind = kind.split('.')[-1]
    if kind == 'ConvTokenViT':
        from mmcell.models import ConvTokenViT
        arch = ConvTokenViT._arch_settings(backbone_cfg.get('arch', 'cvt-13'))
        last = len(arch['depths']) - 1
        final_norm = backbone_cfg.get('final_norm', True) and backbone_cfg.get(
            'out_type', 'cls_token') != 'sparse_attention'  # the sparse head holds that norm
        return [f'backbone.stages.{last}', f'backbone.embeds.{last}', 'backbone.cls_token'
                ] + (['backbone.norm'] if final_norm else [])
    if kind in ('ResNet', 'ResNetV1c', 'ResNetV1d', 'ResNeXt', 'SEResNet'):
        return [f"backbone.layer{backbone_cfg.get('num_stages', 4)}"]
    raise ValueError(f'mmcell does not know the last stage of a {kind!r} backbone; '
                     "fine-tune with train='head' or 'all'")


def adaptation_config(cfg: Config, checkpoint: str, ann_file: Union[str, Path],
                      classes: Sequence[str], work_dir: Union[str, Path], train: str = 'all',
                      iters: int = 150, lr: Optional[float] = None, batch_size: int = 16,
                      seed: int = 0, log_level: str = 'INFO') -> Config:
    """A classifier's config turned into its fine-tune on an annotation list.

    Args:
        cfg (mmengine.Config): The classifier's config (its model and training pipeline stay).
        checkpoint (str): The weights to start from.
        ann_file (str | Path): mmpretrain annotation list with absolute image paths.
        classes (Sequence[str]): The classifier's classes (the list's indices).
        work_dir (str | Path): Where the fine-tune writes.
        train (str): ``'all'``, ``'last-stage'`` or ``'head'`` (see the module). Defaults to
            ``'all'``, the best measured on BCCD's white cells for CellViT and ResNet-50.
        iters (int): Training iterations. Defaults to 150.
        lr (float, optional): AdamW's learning rate. Defaults to None: 1e-3 for the head,
            3e-4 with the last stage, 1e-4 for all.
        batch_size (int): Defaults to 16.
        seed (int): Defaults to 0.
        log_level (str): The Runner's log level (``'WARNING'``: no per-iteration lines).
            Defaults to ``'INFO'``.

    Returns:
        mmengine.Config: A config for ``Runner.from_cfg``.
    """
    if train not in TRAIN_PARTS or train == 'linear':
        raise ValueError(f"train must be one of {TRAIN_PARTS[1:]} ('linear' is "
                         f'fit_linear_head), got {train!r}')
    if lr is None:
        lr = {'head': 1e-3, 'last-stage': 3e-4, 'all': 1e-4}[train]
    cfg = Config(cfg.to_dict(), filename=cfg.filename)
    dataset = cfg.train_dataloader.dataset
    while 'pipeline' not in dataset and 'dataset' in dataset:  # e.g. ClassBalancedDataset
        dataset = dataset.dataset
    pipeline = dataset.get('pipeline', cfg.get('train_pipeline'))
    if not pipeline:
        raise ValueError(f'{cfg.filename} has no training pipeline (train_dataloader.dataset.'
                         'pipeline or train_pipeline) for the fine-tune to use')
    cfg.train_dataloader = dict(
        batch_size=batch_size, num_workers=0, persistent_workers=False,
        dataset=dict(type='CustomDataset', ann_file=str(ann_file), data_prefix='',
                     classes=list(classes), pipeline=pipeline),
        sampler=dict(type='InfiniteSampler', shuffle=True))
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg[key] = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    cfg.optim_wrapper = dict(type='OptimWrapper',
                             optimizer=dict(type='AdamW', lr=lr, weight_decay=0.05))
    cfg.param_scheduler = dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=iters,
                               T_max=iters, eta_min=lr / 100)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=iters,
                                        max_keep_ckpts=1, save_last=True)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(1, iters // 10))
    cfg.log_processor = dict(by_epoch=False)
    frozen = {'head': ['backbone'] + (['neck'] if cfg.model.get('neck') else []),
              'last-stage': ['backbone'] + (['neck'] if cfg.model.get('neck') else []),
              'all': []}[train]
    trainable = last_stage_prefixes(cfg.model.backbone) if train == 'last-stage' else []
    cfg.custom_hooks = [dict(type='FreezeHook', frozen=frozen, trainable=trainable)] \
        if frozen else []
    cfg.load_from, cfg.resume = str(checkpoint), False
    cfg.randomness = dict(seed=seed)
    cfg.log_level = log_level
    cfg.work_dir = str(work_dir)
    return cfg


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
            ``seed``, ``log_level``.

    Returns:
        Path: ``<work_dir>/iter_<iters>.pth``.
    """
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    tuned = adaptation_config(cfg, checkpoint, ann_file, classes, work_dir, **kwargs)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
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
        classifier (ImageClassificationInferencer): From :func:`mmcell.apis.init_classifier`.
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
    """
    from mmengine.registry import DefaultScope
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
    with DefaultScope.overwrite_default_scope('mmpretrain'), torch.no_grad():
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


def stratified_split(labels: Sequence[str], holdout: float,
                     seed: int = 0) -> Tuple[List[int], List[int]]:
    """Split cells into a training and a held-back part, class by class, seeded.

    Each class with at least two cells keeps ``round(holdout * n)`` of them (at least one, and
    at least one for training) held back; a class with one cell trains.

    Args:
        labels (Sequence[str]): Each cell's class.
        holdout (float): Share of each class held back, in [0, 1).
        seed (int): Defaults to 0.

    Returns:
        tuple[list[int], list[int]]: Indices to train on and indices held back, sorted.

    Example:
        >>> labels = ['a'] * 10 + ['b'] * 4 + ['c']
        >>> train, held = stratified_split(labels, 0.3, seed=0)
        >>> len(train), len(held), sorted(labels[i] for i in held)
        (11, 4, ['a', 'a', 'a', 'b'])
    """
    if not 0 <= holdout < 1:
        raise ValueError(f'holdout must be in [0, 1), got {holdout}')
    rng = np.random.default_rng(seed)
    train, held = [], []
    for name in sorted(set(labels)):
        idx = [i for i, label in enumerate(labels) if label == name]
        rng.shuffle(idx)
        k = 0 if holdout == 0 or len(idx) < 2 else min(len(idx) - 1,
                                                       max(1, round(holdout * len(idx))))
        held += idx[:k]
        train += idx[k:]
    return sorted(train), sorted(held)


def evaluate_crops(classifier, crops: Sequence[Union[str, np.ndarray]], labels: Sequence[str],
                   batch_size: int = 32) -> Dict:
    """Accuracy, macro F1 over the classes the cells hold, and per-class recall.

    Args:
        classifier (ImageClassificationInferencer): From :func:`mmcell.apis.init_classifier`.
        crops (Sequence[str | np.ndarray]): Cell images.
        labels (Sequence[str]): Their true classes (names of the classifier's classes).
        batch_size (int): Defaults to 32.

    Returns:
        dict: ``cells``, ``accuracy`` and ``macro_f1`` (percentages), ``recall`` (class ->
        percentage, for the classes the cells hold) and ``predicted`` (one name per cell).
    """
    from mmcell.apis import classify
    predicted = [top[0][0] for top in classify(classifier, list(crops), topk=1,
                                               batch_size=batch_size)]
    return score_predictions(predicted, labels, classifier.classes)


def score_predictions(predicted: Sequence[str], labels: Sequence[str],
                      classes: Sequence[str]) -> Dict:
    """:func:`evaluate_crops`'s figures for predictions already made.

    Args:
        predicted (Sequence[str]): Each cell's predicted class.
        labels (Sequence[str]): Each cell's true class.
        classes (Sequence[str]): The classifier's classes.

    Returns:
        dict: As :func:`evaluate_crops`.

    Example:
        >>> r = score_predictions(['a', 'a', 'b', 'b'], ['a', 'b', 'b', 'b'], ['a', 'b', 'c'])
        >>> r['accuracy'], r['recall']
        (75.0, {'a': 100.0, 'b': 66.67})
    """
    from mmpretrain.evaluation import SingleLabelMetric
    classes = list(classes)
    predicted = list(predicted)
    pred = torch.tensor([classes.index(p) for p in predicted])
    target = torch.tensor([classes.index(t) for t in labels])
    _, recall, f1, support = SingleLabelMetric.calculate(pred, target, average=None,
                                                         num_classes=len(classes))
    held = [i for i in range(len(classes)) if support[i] > 0]
    return dict(cells=len(labels), accuracy=round(100 * float((pred == target).float().mean()), 2),
                macro_f1=round(sum(float(f1[i]) for i in held) / max(len(held), 1), 2),
                recall={classes[i]: round(float(recall[i]), 2) for i in held},
                predicted=predicted)


def iterations_for(cells: int, batch_size: int = 16, epochs: float = 30,
                   least: int = 60) -> int:
    """Iterations that show each cell about ``epochs`` times, and at least ``least``.

    Example:
        >>> iterations_for(100), iterations_for(10)
        (188, 60)
    """
    return max(least, math.ceil(epochs * cells / batch_size))
