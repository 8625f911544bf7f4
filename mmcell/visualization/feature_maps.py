"""Feature maps of a detector's backbone and neck (Song et al. 2021, Fig. 7).

:func:`detector_feature_maps` runs an mmdet detector on an image and keeps what its backbone
(C2-C5) and neck (P2-P6) put out; :func:`draw_feature_maps` shows chosen levels over the image,
each as the mean absolute activation across channels.
"""
import numpy as np
import torch
from mmengine.registry import DefaultScope

from .figures import overlay_heatmap, pyplot, save_figure


def detector_feature_maps(detector, img):
    """Backbone and neck outputs of an mmdet detector for one image.

    Args:
        detector (DetInferencer | nn.Module): mmdet's ``DetInferencer`` or a model from
            ``mmdet.apis.init_detector``; its backbone gives C2.. and its neck P2...
        img (np.ndarray): BGR image.

    Returns:
        dict[str, np.ndarray]: ``'C2'``, ``'C3'``, ... and ``'P2'``, ``'P3'``, ...: per level the
        mean absolute activation over channels, (h, w), cropped to the image (padding removed).
    """
    from mmdet.apis import inference_detector
    model = detector if isinstance(detector, torch.nn.Module) else detector.model
    captured = {}

    def keeper(key):
        def keep(module, args, out):  # returns None: the output goes on unchanged
            captured[key] = out
        return keep

    hooks = [module.register_forward_hook(keeper(key))
             for key, module in (('C', model.backbone), ('P', model.neck))]
    try:
        with DefaultScope.overwrite_default_scope('mmdet'):
            sample = inference_detector(model, img)
    finally:
        for hook in hooks:
            hook.remove()
    img_h, img_w = sample.metainfo['img_shape']
    pad_h, pad_w = sample.metainfo.get('batch_input_shape', (img_h, img_w))
    maps = {}
    for prefix, outs in captured.items():
        start = 2 + (prefix == 'C') * (4 - len(outs))  # C2 first unless out_indices skip it
        for level, out in enumerate(outs, start=start):
            act = out[0].abs().mean(dim=0).numpy()
            h, w = act.shape
            maps[f'{prefix}{level}'] = act[:max(1, round(h * img_h / pad_h)),
                                           :max(1, round(w * img_w / pad_w))]
    return maps


def draw_feature_maps(img, maps, out_file, levels=('C2', 'C3', 'C4', 'P2', 'P3', 'P4')):
    """Save the image and the chosen feature-map levels over it as one PNG grid.

    Args:
        img (np.ndarray): The BGR image :func:`detector_feature_maps` saw.
        maps (dict): What :func:`detector_feature_maps` returned.
        out_file (str): PNG path.
        levels (Sequence[str]): Levels to show, backbone then neck. Defaults to C2-C4 and P2-P4,
            the paper's Fig. 7.
    """
    import cv2
    missing = [level for level in levels if level not in maps]
    if missing:
        raise KeyError(f'no feature maps {missing}; the detector gives {sorted(maps)}')
    rgb = img[..., ::-1]
    rows = [row for row in 'CP' if any(level[0] == row for level in levels)]  # backbone first
    cols = max(sum(level[0] == row for level in levels) for row in rows)
    plt = pyplot()
    fig, axes = plt.subplots(len(rows), cols + 1, figsize=(3.2 * (cols + 1), 2.6 * len(rows)),
                             squeeze=False, layout='constrained')
    for r, row in enumerate(rows):
        axes[r, 0].imshow(rgb)
        axes[r, 0].set_title('image' if r == 0 else '')
        axes[r, 0].set_ylabel('backbone' if row == 'C' else 'neck (FPN)')
        for c, level in enumerate([level for level in levels if level[0] == row], start=1):
            act = maps[level]
            heat = cv2.resize(act, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
            low, high = np.percentile(heat, (2, 98))  # robust: padding borders can spike
            heat = (heat - low) / max(high - low, 1e-12)
            axes[r, c].imshow(overlay_heatmap(rgb, heat, alpha=0.6))
            axes[r, c].set_title(f'{level} ({act.shape[1]}x{act.shape[0]})')
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        if not ax.images:
            ax.axis('off')
    save_figure(fig, out_file)
