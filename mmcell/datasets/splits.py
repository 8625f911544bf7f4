"""Seeded, stratified (and optionally group-aware) dataset splits.

One algorithm serves both routes: datasets take ``split=dict(...)`` and split themselves when
built; ``tools/dataset_converters/make_splits.py`` writes the same splits as mmpretrain
annotation files. The result depends only on the sorted file list, the labels, the groups and
the seed (numpy's PCG64 generator), so the same seed gives the same split on any machine.
"""
import csv
from collections import defaultdict
from typing import Dict, Hashable, List, Optional, Sequence

import numpy as np


def assign_stratified(labels: Sequence[int],
                      fractions: Sequence[float],
                      seed: int = 0,
                      groups: Optional[Sequence[Hashable]] = None) -> np.ndarray:
    """Assign items to bins of the given sizes, keeping class proportions in every bin.

    Items (or whole groups, when ``groups`` is given) are taken in a seeded random order, groups
    largest first, and each goes to the bin whose share of the item's classes is furthest below
    its target. Without groups every class is split to within one item of the targets.

    Args:
        labels (Sequence[int]): Class of each item.
        fractions (Sequence[float]): Target size of each bin, summing to 1.
        seed (int): Seed of the order. Defaults to 0.
        groups (Sequence[str], optional): Group of each item (a patient or slide); a group
            never spans two bins. Defaults to None (every item its own group).

    Returns:
        np.ndarray: The bin of each item.
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 1 or (fractions < 0).any() or not np.isclose(fractions.sum(), 1):
        raise ValueError(f'fractions must be non-negative and sum to 1, got {fractions.tolist()}')
    labels = np.asarray(labels)
    if len(labels) == 0:
        raise ValueError('nothing to split: no items')
    num_classes = int(labels.max()) + 1
    members = defaultdict(list)
    for i, group in enumerate(groups if groups is not None else range(len(labels))):
        members[group].append(i)
    units = list(members.values())
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(units))
    order = sorted(order, key=lambda u: -len(units[u]))  # stable: ties keep the random order
    targets = fractions[:, None] * np.bincount(labels, minlength=num_classes)[None]
    counts = np.zeros_like(targets)
    bins = np.empty(len(labels), dtype=int)
    for u in order:
        composition = np.bincount(labels[units[u]], minlength=num_classes)
        room = (targets - counts) / np.maximum(targets, 1e-9)
        chosen = int(np.argmax(room @ composition - 1e9 * (fractions == 0)))
        counts[chosen] += composition
        bins[units[u]] = chosen
    return bins


def split_indices(labels: Sequence[int],
                  part: str,
                  num_folds: Optional[int] = None,
                  fold: int = 0,
                  ratios: Optional[Sequence[float]] = None,
                  seed: int = 0,
                  groups: Optional[Sequence[Hashable]] = None) -> List[int]:
    """Indices of one part of a k-fold or train/val/test split.

    Args:
        labels (Sequence[int]): Class of each item.
        part (str): ``'train'`` or ``'val'`` for k-fold (``val`` is fold ``fold``);
            ``'train'``, ``'val'`` or ``'test'`` for a ratio split.
        num_folds (int, optional): k of a k-fold split. Defaults to None (give ``ratios``).
        fold (int): Which fold is held out. Defaults to 0.
        ratios (Sequence[float], optional): train/val/test fractions of a ratio split.
            Defaults to None (give ``num_folds``).
        seed (int): Seed of the order. Defaults to 0.
        groups (Sequence[str], optional): Group of each item; a group never spans two parts.
            Defaults to None.

    Returns:
        list[int]: The indices, ascending.

    Example:
        >>> labels = [0] * 6 + [1] * 4
        >>> val = split_indices(labels, 'val', num_folds=2, fold=0)
        >>> train = split_indices(labels, 'train', num_folds=2, fold=0)
        >>> sorted(train + val) == list(range(10)), [labels[i] for i in val]
        (True, [0, 0, 0, 1, 1])
        >>> split_indices(labels, 'test', ratios=(0.5, 0.25, 0.25), seed=1) == split_indices(
        ...     labels, 'test', ratios=(0.5, 0.25, 0.25), seed=1)  # seeded: reproducible
        True
    """
    if (num_folds is None) == (ratios is None):
        raise ValueError('a split needs either num_folds (k-fold) or ratios (train/val/test)')
    if num_folds is not None:
        if not 0 <= fold < num_folds:
            raise ValueError(f'fold must be in [0, {num_folds}), got {fold}')
        if part not in ('train', 'val'):
            raise ValueError(f"a k-fold part is 'train' or 'val', got {part!r}")
        bins = assign_stratified(labels, [1 / num_folds] * num_folds, seed, groups)
        keep = bins == fold if part == 'val' else bins != fold
    else:
        if len(ratios) != 3:
            raise ValueError(f'ratios are train/val/test fractions, got {ratios}')
        parts = ('train', 'val', 'test')
        if part not in parts:
            raise ValueError(f'part must be one of {parts}, got {part!r}')
        keep = assign_stratified(labels, ratios, seed, groups) == parts.index(part)
    return np.flatnonzero(keep).tolist()


def read_groups(path: str) -> Dict[str, str]:
    """Read a ``<image path>,<group>`` CSV (header optional) into a dict; paths as written."""
    groups, lines = {}, {}
    with open(path, newline='') as f:
        for number, row in enumerate(csv.reader(f), 1):
            if number == 1 and row[:2] == ['image', 'group']:
                continue
            if len(row) != 2 or not row[0] or not row[1]:
                raise ValueError(f'{path}, line {number}: expected "<image>,<group>", got {row}')
            image, group = row
            if groups.setdefault(image, group) != group:
                raise ValueError(f'{path}, line {number}: {image} is in group {group}, but line '
                                 f'{lines[image]} put it in group {groups[image]}')
            lines.setdefault(image, number)
    return groups
