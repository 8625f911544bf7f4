"""Collect the logits, pre-logit features and labels of an mmpretrain classifier over a loader.

What the trust state is fitted on (:class:`~mmcell.uncertainty.state.TrustState`): logits for
calibration and conformal sets, pre-logit features (the input of the head's final linear
layer) for the Mahalanobis score. Each batch goes through the model's ``data_preprocessor``
as ``test_step`` sends it, then ``extract_feat``, the head's ``pre_logits`` and the head's
final layer, once, under ``torch.no_grad()`` and in eval mode.

The heads this knows the final layer of: mmpretrain's ``LinearClsHead`` (and mmcell's
``ContrastiveLinearClsHead``, ``SparseAttentionHead``: ``fc``) and
``VisionTransformerClsHead`` (``layers.head``). Another head's logits come from calling it,
which runs its ``pre_logits`` a second time.
"""
from typing import Iterable, NamedTuple, Optional, Sequence, TextIO

import torch
import torch.nn as nn

from mmcell.utils.progress import track

__all__ = ['ClassifierOutputs', 'final_layer', 'collect_outputs', 'split_loader']


class ClassifierOutputs(NamedTuple):
    """What a classifier gives for each cell of a loader, on the CPU, in loader order.

    Attributes:
        logits (Tensor): (N, C), float32.
        features (Tensor): Pre-logit features, (N, D), float32.
        labels (Tensor): True classes, (N,) int64; -1 where a sample has no ``gt_label``.
    """
    logits: torch.Tensor
    features: torch.Tensor
    labels: torch.Tensor


def final_layer(head: nn.Module) -> Optional[nn.Linear]:
    """The linear layer that turns a head's pre-logit features into logits, if it is known.

    Args:
        head (nn.Module): A classification head.

    Returns:
        nn.Linear | None: ``head.fc`` (``LinearClsHead``, ``SparseAttentionHead``...) or
        ``head.layers.head`` (``VisionTransformerClsHead``); None for other heads.

    Example:
        >>> from mmpretrain.registry import MODELS
        >>> head = MODELS.build(dict(type='LinearClsHead', num_classes=3, in_channels=8))
        >>> final_layer(head)
        Linear(in_features=8, out_features=3, bias=True)
    """
    for layer in (getattr(head, 'fc', None), getattr(getattr(head, 'layers', None), 'head', None)):
        if isinstance(layer, nn.Linear):
            return layer
    return None


def _labels(data_samples, batch_size: int) -> torch.Tensor:
    labels = []
    for sample in data_samples or [None] * batch_size:
        gt = getattr(sample, 'gt_label', None) if sample is not None else None
        labels.append(int(gt.reshape(-1)[0]) if gt is not None and gt.numel() else -1)
    return torch.tensor(labels, dtype=torch.long)


def collect_outputs(model: nn.Module, dataloader: Iterable, description: str = 'cells',
                    stream: Optional[TextIO] = None) -> ClassifierOutputs:
    """Run an mmpretrain ``ImageClassifier`` over a loader; keep logits, features and labels.

    Args:
        model (nn.Module): An ``ImageClassifier`` (with ``data_preprocessor``,
            ``extract_feat`` and a head with ``pre_logits``).
        dataloader (Iterable): Batches as mmengine's loaders give them (dicts of ``inputs``
            and ``data_samples``).
        description (str): What the progress display says. Defaults to ``'cells'``.
        stream (TextIO, optional): Where the progress goes. Defaults to None (stdout).

    Returns:
        ClassifierOutputs: Logits, pre-logit features and labels of every sample.

    Raises:
        TypeError: If the model has no head with ``pre_logits``.
        ValueError: If the loader gives no batch.

    Example:
        >>> import io, torch
        >>> from mmpretrain.registry import MODELS
        >>> from mmpretrain.structures import DataSample
        >>> model = MODELS.build(dict(
        ...     type='ImageClassifier', backbone=dict(type='LeNet5'),
        ...     neck=dict(type='GlobalAveragePooling'),
        ...     head=dict(type='LinearClsHead', num_classes=3, in_channels=120),
        ...     data_preprocessor=dict(type='ClsDataPreprocessor', mean=[128], std=[64])))
        >>> # Grey 32 px images (LeNet5 takes one channel).
        >>> batch = dict(inputs=[torch.randint(0, 256, (1, 32, 32), dtype=torch.uint8)] * 2,
        ...              data_samples=[DataSample().set_gt_label(k) for k in (0, 2)])
        >>> outputs = collect_outputs(model, [batch], stream=io.StringIO())
        >>> outputs.logits.shape, outputs.features.shape, outputs.labels.tolist()
        (torch.Size([2, 3]), torch.Size([2, 120]), [0, 2])
    """
    head = getattr(model, 'head', None)
    if head is None or not hasattr(head, 'pre_logits'):
        raise TypeError(f'{type(model).__name__} has no head with pre_logits: collect_outputs '
                        'needs an mmpretrain ImageClassifier')
    layer = final_layer(head)
    try:
        total = len(dataloader)
    except TypeError:
        total = 0
    logits, features, labels = [], [], []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            batches = track(dataloader, total=total, description=description, stream=stream) \
                if total else dataloader
            for data in batches:
                data = model.data_preprocessor(data, False)  # as BaseModel.test_step does
                inputs = data['inputs']
                feats = model.extract_feat(inputs)
                pre = head.pre_logits(feats)
                out = layer(pre) if layer is not None else head(feats)
                logits.append(out.float().cpu())
                features.append(pre.float().flatten(1).cpu())
                labels.append(_labels(data.get('data_samples'), out.size(0)))
    finally:
        model.train(was_training)
    if not logits:
        raise ValueError('the dataloader gave no batch')
    return ClassifierOutputs(torch.cat(logits), torch.cat(features), torch.cat(labels))


def split_loader(cfg, part: str, classes: Optional[Sequence[str]] = None):
    """A deterministic loader over one split of a classification config, with its test pipeline.

    Args:
        cfg (mmengine.Config): The config.
        part (str): ``'train'``, ``'val'`` or ``'test'``: the config's loader of that split,
            unshuffled and with the test pipeline (so training cells are seen as at test time).
        classes (Sequence[str], optional): All cells of these classes instead of the split
            (for cells of kinds the model was not trained on, e.g. a left-out class: none of
            them was seen, so the split is dropped; the dataset must know the classes).
            Defaults to None.

    Returns:
        torch.utils.data.DataLoader: Built by mmengine's ``Runner.build_dataloader`` in the
        mmpretrain scope.
    """
    import copy

    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    loader = copy.deepcopy(cfg.get(f'{part}_dataloader'))
    if loader is None:
        raise ValueError(f'{cfg.filename} has no {part}_dataloader')
    dataset = loader['dataset']
    while 'dataset' in dataset:  # wrappers such as ClassBalancedDataset
        dataset = dataset['dataset']
    dataset['pipeline'] = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    if classes is not None:
        dataset['classes'] = tuple(classes)
        dataset.pop('split', None)
    loader.update(sampler=dict(type='DefaultSampler', shuffle=False), persistent_workers=False)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return Runner.build_dataloader(loader)
