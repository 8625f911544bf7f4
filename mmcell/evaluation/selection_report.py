"""Does the sparse attention head select? Its picks over a test split, measured.

Wang et al. (2023) weight the earlier layers' CLS attention by input (the SE step) and let each
head pick its most discriminative token. :func:`image_selection` records, per image, which
tokens the heads picked, how spread each head's aggregated attention is, the layer weights, and
how many picks lie on the stained white cell (:func:`~mmcell.datasets.transforms.cell_mask`: a
mask from the cell's colour, no labels). :func:`summarize_selection` gives the figures the claims
rest on: distinct tokens per image, the SE weights' spread across layers and across images, and
the share of picks on the cell against the share of the image the cell covers (where picks
would land by chance).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from mmcell.datasets.transforms import cell_mask
from mmcell.utils import track

__all__ = [
    'tokens_on', 'image_selection', 'record_selection', 'summarize_selection',
    'format_selection_summary'
]


def _normalised_entropy(attention: torch.Tensor) -> torch.Tensor:
    """Entropy of each head's attention over the keys, over log(keys): 0 one key, 1 uniform."""
    p = attention / attention.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    entropy = -(p * p.clamp_min(1e-12).log()).sum(dim=-1)
    return entropy / np.log(max(attention.size(-1), 2))


def tokens_on(mask: np.ndarray, grid: Sequence[int]) -> np.ndarray:
    """Which tokens of an (H, W) grid touch a mask: the (H, W) booleans.

    Example:
        >>> mask = np.zeros((8, 8), bool)
        >>> mask[1, 5] = True
        >>> tokens_on(mask, (2, 2)).tolist()
        [[False, True], [False, False]]
    """
    h, w = grid
    rows = np.add.reduceat(mask, np.arange(h) * mask.shape[0] // h, axis=0)
    return np.add.reduceat(rows, np.arange(w) * mask.shape[1] // w, axis=1) > 0


def image_selection(selection, grid: Sequence[int], key_grid: Sequence[int],
                    images: Sequence[np.ndarray], labels: Sequence[int],
                    preds: Sequence[int]) -> List[dict]:
    """One record per image of a batch: the picks, their spread, and whether they hit the cell.

    A token stands for its patch of the image (token ``j`` of a row of ``W`` covers columns
    ``[j, j + 1) * image width / W``, as the attention pictures draw it). The heads can only
    pick the tokens that keys stand for (every stride-th row and column with strided keys), so
    the chance level is the share of those tokens that touch the cell.

    Args:
        selection (TokenSelection): The head's selection for the batch
            (:meth:`~mmcell.models.SparseAttentionHead.select`).
        grid (Sequence[int]): The token grid (H, W) the indices refer to.
        key_grid (Sequence[int]): The key grid (Hk, Wk) the heads pick from.
        images (Sequence[np.ndarray]): The model's input images, HxWx3 uint8 RGB.
        labels (Sequence[int]): True labels.
        preds (Sequence[int]): Predicted labels.

    Returns:
        list[dict]: Per image: ``label``, ``pred``, ``tokens`` (the picked token per head),
        ``distinct_tokens``, ``entropy`` (per head, normalised), ``layer_weights``,
        ``cell_found``, ``cell_tokens`` (the share of the pickable tokens on the cell: the
        chance level), ``picks_on_cell`` (count; both None without a cell) and ``pick_xy`` (the
        picks' centres in image pixels).

    Example:
        >>> import torch
        >>> from mmcell.models.heads import TokenSelection
        >>> img = np.full((32, 32, 3), 255, np.uint8)
        >>> img[8:24, 8:24] = (80, 50, 150)  # a stained cell in the middle
        >>> sel = TokenSelection(indices=torch.tensor([[5, 0]]), keys=torch.tensor([[5, 0]]),
        ...                      attention=torch.full((1, 2, 16), 1 / 16),
        ...                      layer_weights=torch.tensor([[0.5, 0.5]]))
        >>> (record, ) = image_selection(sel, (4, 4), (4, 4), [img], [0], [0])
        >>> record['distinct_tokens'], record['picks_on_cell'], record['cell_tokens']
        (2, 1, 0.25)
    """
    (h, w), (hk, wk) = grid, key_grid
    pickable = np.ix_(np.minimum(np.arange(hk) * -(-h // hk), h - 1),
                      np.minimum(np.arange(wk) * -(-w // wk), w - 1))
    entropy = _normalised_entropy(selection.attention.float()).cpu().numpy()
    indices = selection.indices.cpu().numpy()
    weights = selection.layer_weights.float().cpu().numpy()
    records = []
    for k, img in enumerate(images):
        tokens = indices[k]
        img_h, img_w = img.shape[:2]
        xs = ((tokens % w + 0.5) * img_w / w).astype(int).clip(0, img_w - 1)
        ys = ((tokens // w + 0.5) * img_h / h).astype(int).clip(0, img_h - 1)
        mask = cell_mask(img / 255.0)
        on = None if mask is None else tokens_on(mask, grid)
        records.append(dict(
            label=int(labels[k]), pred=int(preds[k]), tokens=tokens.tolist(),
            distinct_tokens=len(set(tokens.tolist())), entropy=entropy[k].tolist(),
            layer_weights=weights[k].tolist(), cell_found=mask is not None,
            cell_tokens=None if on is None else float(on[pickable].mean()),
            picks_on_cell=None if on is None else int(on.flat[tokens].sum()),
            pick_xy=np.stack([xs, ys], axis=1).tolist()))
    return records


def record_selection(model, loader, limit: Optional[int] = None
                     ) -> Tuple[List[dict], List[np.ndarray]]:
    """Records of :func:`image_selection` for every image a loader gives, and the images.

    Args:
        model (ImageClassifier): A classifier whose head is a
            :class:`~mmcell.models.SparseAttentionHead`, in eval mode.
        loader (DataLoader): A test loader whose images have one size (mmcv loads them BGR;
            with ``to_rgb`` the model's data preprocessor makes them RGB).
        limit (int, optional): Stop after this many images. Defaults to None (all).

    Returns:
        tuple[list[dict], list[np.ndarray]]: The records, and each record's input image as
        HxWx3 uint8 RGB.
    """
    head = model.head
    bgr = getattr(model.data_preprocessor, 'to_rgb', False)
    records, images = [], []
    with torch.no_grad():
        for data in track(loader, total=len(loader), description='selection: batches'):
            raw = [np.ascontiguousarray(img.permute(1, 2, 0).numpy()[..., ::-1] if bgr else
                                        img.permute(1, 2, 0).numpy()) for img in data['inputs']]
            data = model.data_preprocessor(data, False)
            feats = model.extract_feat(data['inputs'])
            inputs = head._inputs(feats)
            preds = head(feats).argmax(dim=1).tolist()
            labels = [int(sample.gt_label) for sample in data['data_samples']]
            batch = image_selection(head.select(inputs), inputs.grid, inputs.key_grid, raw,
                                    labels, preds)
            for record, sample in zip(batch, data['data_samples']):
                record['image'] = sample.metainfo.get('img_path', '')
            records += batch
            images += raw
            if limit is not None and len(records) >= limit:
                return records[:limit], images[:limit]
    return records, images


def summarize_selection(records: List[dict]) -> Dict:
    """The figures over all images.

    Args:
        records (list[dict]): What :func:`image_selection` returned, for every image.

    Returns:
        dict: ``images``; ``distinct_tokens`` (mean) and ``distinct_histogram`` (images with
        1..heads distinct tokens); ``entropy_per_head`` (mean normalised entropy of each head);
        ``layer_weights_mean`` and ``layer_weights_std`` (per layer, over images);
        ``se_spread_across_layers`` (largest minus smallest weight of an image, mean over
        images); ``se_spread_across_images`` (each layer's standard deviation over images, mean
        over layers and the largest); ``picks_on_cell`` (share of the picks in images with a
        cell found that lie on it); ``cell_tokens`` (mean share of the pickable tokens on the
        cell: the picks' chance level); ``no_cell_found`` (images left out of those two).

    Example:
        >>> records = [dict(distinct_tokens=2, entropy=[0.5, 0.7], layer_weights=[0.4, 0.6],
        ...                 cell_found=True, cell_tokens=0.25, picks_on_cell=2, tokens=[1, 2]),
        ...            dict(distinct_tokens=1, entropy=[0.3, 0.5], layer_weights=[0.6, 0.4],
        ...                 cell_found=False, cell_tokens=None, picks_on_cell=None, tokens=[3, 3])]
        >>> s = summarize_selection(records)
        >>> s['distinct_tokens'], s['distinct_histogram'], s['picks_on_cell'], s['no_cell_found']
        (1.5, [1, 1], 1.0, 1)
    """
    if not records:
        raise ValueError('no images to summarize')
    heads = len(records[0]['tokens'])
    distinct = np.array([r['distinct_tokens'] for r in records])
    weights = np.array([r['layer_weights'] for r in records])
    with_cell = [r for r in records if r['cell_found']]
    picks = sum(len(r['tokens']) for r in with_cell)
    return dict(
        images=len(records),
        distinct_tokens=float(distinct.mean()),
        distinct_histogram=np.bincount(distinct, minlength=heads + 1)[1:heads + 1].tolist(),
        entropy_per_head=np.array([r['entropy'] for r in records]).mean(axis=0).tolist(),
        layer_weights_mean=weights.mean(axis=0).tolist(),
        layer_weights_std=weights.std(axis=0).tolist(),
        se_spread_across_layers=float((weights.max(axis=1) - weights.min(axis=1)).mean()),
        se_spread_across_images=dict(mean=float(weights.std(axis=0).mean()),
                                     max=float(weights.std(axis=0).max())),
        picks_on_cell=(sum(r['picks_on_cell'] for r in with_cell) / picks) if picks else None,
        cell_tokens=float(np.mean([r['cell_tokens'] for r in with_cell])) if with_cell else None,
        no_cell_found=len(records) - len(with_cell))


def format_selection_summary(summary: Dict) -> str:
    """The summary as the lines the tool prints."""
    def pct(value):
        return 'n/a' if value is None else f'{100 * value:.1f}%'

    histogram = ', '.join(f'{k}: {n}' for k, n in enumerate(summary['distinct_histogram'], 1))
    entropy = ' '.join(f'{e:.3f}' for e in summary['entropy_per_head'])
    spread = summary['se_spread_across_images']
    return '\n'.join([
        f"images: {summary['images']}",
        f"distinct tokens per image (over heads): {summary['distinct_tokens']:.2f} "
        f'(images with 1..heads distinct: {histogram})',
        f'attention entropy per head (0: one key, 1: uniform): {entropy}',
        f"SE layer weights: mean {' '.join(f'{w:.4f}' for w in summary['layer_weights_mean'])}",
        f"  largest minus smallest within an image: {summary['se_spread_across_layers']:.5f} "
        f'(mean over images)',
        f"  std across images: {spread['mean']:.5f} (mean over layers), {spread['max']:.5f} "
        '(largest)',
        f"picks on the stained cell: {pct(summary['picks_on_cell'])} (by chance: "
        f"{pct(summary['cell_tokens'])}, the share of pickable tokens on it; no cell found in "
        f"{summary['no_cell_found']} images)"])
