"""Where the sparse attention head looked (Wang et al. 2023, Fig. 3).

:func:`sparse_attention` runs a CellViT classifier on an image and returns, in the image's own
pixels, the aggregated CLS attention the head ranks tokens by and the token it picked per head;
:func:`draw_sparse_attention` draws both next to the image.
"""
import numpy as np
import torch

from .figures import overlay_heatmap, pyplot, save_figure


def sparse_attention(classifier, img):
    """The sparse attention head's view of one image.

    Args:
        classifier (ImageClassificationInferencer): A classifier whose head is
            :class:`~mmcell.models.SparseAttentionHead` (see :class:`mmcell.apis.CellClassificationInferencer`).
        img (np.ndarray): BGR image.

    Returns:
        dict: ``attention``: (H, W) float array in [0, 1], the SE-weighted CLS attention averaged
        over heads, resized to the image; ``tokens``: (heads, 2) array of the picked tokens'
        centres as (x, y) image pixels; ``layer_weights``: (L-1,) the SE weights of the layers;
        ``pred_class`` and ``pred_score``.

    Raises:
        TypeError: The classifier's head is not a sparse attention head.
    """
    import torch.nn.functional as F

    from mmcell.models import SparseAttentionHead
    model = classifier.model
    if not isinstance(model.head, SparseAttentionHead):
        raise TypeError(f'the classifier has a {type(model.head).__name__}, not a '
                        'SparseAttentionHead: nothing to show')
    captured = {}

    def keep_feats(module, args):  # returns None: the head's input goes on unchanged
        captured['feats'] = args[0]

    hook = model.head.register_forward_pre_hook(keep_feats)
    try:
        result = classifier([img])
    finally:
        hook.remove()
    result = result['predictions'][0] if isinstance(result, dict) else result[0]
    with torch.no_grad():
        inputs = model.head._inputs(captured['feats'])
        selection = model.head.select(inputs)
    (h, w), (hk, wk) = inputs.grid, inputs.key_grid
    img_h, img_w = img.shape[:2]
    attention = selection.attention[0].mean(dim=0).reshape(1, 1, hk, wk)
    attention = F.interpolate(attention, size=(img_h, img_w), mode='bilinear',
                              align_corners=False)[0, 0].numpy()
    attention = (attention - attention.min()) / max(np.ptp(attention), 1e-12)
    index = selection.indices[0].numpy()
    tokens = np.stack([(index % w + 0.5) * img_w / w, (index // w + 0.5) * img_h / h], axis=1)
    return dict(attention=attention, tokens=tokens,
                layer_weights=selection.layer_weights[0].numpy(),
                pred_class=result['pred_class'], pred_score=float(result['pred_score']))


def draw_sparse_attention(img, view, out_file, title=None):
    """Save the image, its aggregated attention, and the picked tokens as one PNG.

    Args:
        img (np.ndarray): The BGR image :func:`sparse_attention` saw.
        view (dict): What :func:`sparse_attention` returned.
        out_file (str): PNG path.
        title (str, optional): Figure title. Defaults to the predicted class and its score.
    """
    rgb = img[..., ::-1]
    fig, axes = pyplot().subplots(1, 3, figsize=(11, 3.8), layout='constrained',
                                  gridspec_kw=dict(width_ratios=[1, 1, 0.8]))
    axes[0].imshow(rgb)
    axes[0].set_title('image and picked tokens')
    heads_at = {}  # heads that picked the same token share one circle
    for head, (x, y) in enumerate(view['tokens'], start=1):
        heads_at.setdefault((x, y), []).append(str(head))
    for (x, y), heads in heads_at.items():
        axes[0].plot(x, y, 'o', ms=14, mfc='none', mec='yellow', mew=2)
        axes[0].annotate(','.join(heads), (x, y), xytext=(9, 9), textcoords='offset points',
                         color='black', fontsize=8, fontweight='bold',
                         bbox=dict(boxstyle='round,pad=0.15', fc='yellow', ec='none'))
    axes[1].imshow(overlay_heatmap(rgb, view['attention']))
    axes[1].set_title('aggregated CLS attention')
    for ax in axes[:2]:
        ax.axis('off')
    weights = view['layer_weights']
    axes[2].bar(np.arange(1, len(weights) + 1), weights, color='tab:purple')
    axes[2].set_xlabel('encoder layer (last stage)')
    axes[2].set_ylabel('SE weight')
    axes[2].set_title('layer weights')
    fig.suptitle(title or f"predicted {view['pred_class']} ({view['pred_score']:.2f}); "
                 'circles: token picked by the numbered heads')
    save_figure(fig, out_file)


def draw_selection_page(cells, out_file, title=None):
    """Cells in rows by class, each with its white-cell outline and the heads' picks.

    Args:
        cells (dict[str, list[tuple[np.ndarray, dict]]]): Per class name, (uint8 RGB image,
            record of :func:`mmcell.evaluation.selection_report.image_selection`) pairs.
        out_file (str): PNG path.
        title (str, optional): Figure title.
    """
    from mmcell.datasets.transforms import cell_mask
    rows = [(name, pairs) for name, pairs in cells.items() if pairs]
    if not rows:
        raise ValueError('no cells to draw')
    cols = max(len(pairs) for _, pairs in rows)
    fig, axes = pyplot().subplots(len(rows), cols, figsize=(1.9 * cols + 0.4, 2.0 * len(rows)),
                                  layout='constrained', squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for r, (name, pairs) in enumerate(rows):
        for c, (img, record) in enumerate(pairs):
            ax = axes[r, c]
            ax.imshow(img)
            mask = cell_mask(img / 255.0)
            if mask is not None:
                ax.contour(mask, levels=[0.5], colors='cyan', linewidths=1)
            xy = np.array(record['pick_xy'])
            ax.plot(xy[:, 0], xy[:, 1], 'o', ms=9, mfc='none', mec='yellow', mew=1.8)
            ax.set_title(f"{name}: {record['distinct_tokens']} token"
                         f"{'s' if record['distinct_tokens'] != 1 else ''}", fontsize=8)
    fig.suptitle(title or 'picked tokens (yellow) and the stained cell found by colour (cyan)',
                 fontsize=10)
    save_figure(fig, out_file)


def draw_selection_summary(summary, out_file):
    """Three panels: distinct tokens per image, each head's entropy, the SE layer weights.

    Args:
        summary (dict): :func:`mmcell.evaluation.selection_report.summarize_selection`'s.
        out_file (str): PNG path.
    """
    fig, axes = pyplot().subplots(1, 3, figsize=(12, 3.6), layout='constrained')
    histogram = summary['distinct_histogram']
    axes[0].bar(np.arange(1, len(histogram) + 1), histogram, color='tab:blue')
    axes[0].set_xlabel('distinct tokens picked by the heads')
    axes[0].set_ylabel('images')
    axes[0].set_title(f"mean {summary['distinct_tokens']:.2f} of {len(histogram)}")
    entropy = summary['entropy_per_head']
    axes[1].bar(np.arange(1, len(entropy) + 1), entropy, color='tab:orange')
    axes[1].set_ylim(0, 1)
    axes[1].set_xlabel('head')
    axes[1].set_ylabel('attention entropy / log(keys)')
    axes[1].set_title('0: one key, 1: uniform')
    weights = summary['layer_weights_mean']
    axes[2].bar(np.arange(1, len(weights) + 1), weights, color='tab:purple',
                yerr=summary.get('layer_weights_std'), capsize=2)
    axes[2].set_xlabel('encoder layer (last stage)')
    axes[2].set_ylabel('SE weight (mean, std over images)')
    axes[2].set_title(f"spread within an image {summary['se_spread_across_layers']:.4f}")
    save_figure(fig, out_file)
