"""Classify cell images, detect cells, and count them on a smear, with mmpretrain's and mmdet's
inferencers.

The models come as mmpretrain's ``ImageClassificationInferencer`` and mmdet's ``DetInferencer``
(or an mmdet detector from ``mmdet.apis.init_detector``); :func:`init_classifier` and
:func:`init_detector` build them from a config and checkpoint. Checkpoints load through mmcell's
safe loader (``torch.load(weights_only=True)``; see :mod:`mmcell.compat.checkpoint_loading`), so
a file carrying a pickled object is refused, not run.

Each call runs in its model's registry scope (mmpretrain or mmdet), so a classifier and a detector
work side by side in one process whatever scope was current.

A classifier whose checkpoint has a trust state beside it (``epoch_8.trust.pth``, fitted by
``tools/analysis_tools/fit_trust.py``; :mod:`mmcell.uncertainty`) gives calibrated probabilities,
and :func:`count_cells` puts a white cell whose prediction cannot be trusted (its conformal
prediction set is not one class, or its trust score is below the fitted threshold) in
``unidentified``, counted apart from the classes.
"""
import io
from collections import Counter

import numpy as np
import torch
from mmengine.registry import DefaultScope

from .tiled_inference import inference_detector_tiled


def init_classifier(config, checkpoint=None, device='cpu', trust='auto'):
    """mmpretrain's ``ImageClassificationInferencer`` for a config and checkpoint.

    Args:
        config (str | mmengine.Config): The model's config.
        checkpoint (str, optional): Its weights. Defaults to None (random weights).
        device (str): Defaults to ``'cpu'``.
        trust (str, optional): A trust state file (:class:`mmcell.uncertainty.TrustState`);
            ``'auto'``: the one beside the checkpoint if there is one; None: none. It is checked
            against the model (classes and final-layer weights) and kept as the inferencer's
            ``trust_state``. Defaults to ``'auto'``.

    Returns:
        mmpretrain.apis.ImageClassificationInferencer: With ``trust_state`` (or None).

    Raises:
        FileNotFoundError: ``trust`` names a file that does not exist.
        ValueError: The trust state was fitted for another model or class list (both named).
    """
    from mmpretrain.apis import ImageClassificationInferencer

    from mmcell.uncertainty import TrustState, model_fingerprint, trust_state_path
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = ImageClassificationInferencer(model=config, pretrained=checkpoint or False,
                                                   device=device)
    if trust == 'auto':
        found = checkpoint and trust_state_path(checkpoint)
        trust = str(found) if found and found.is_file() else None
    classifier.trust_state = None
    if trust is not None:
        state = TrustState.load(trust)
        state.check(model_fingerprint(classifier.model, _classifier_classes(classifier),
                                      getattr(config, 'filename', config)))
        classifier.trust_state = state
    return classifier


def init_detector(config, checkpoint=None, device='cpu'):
    """mmdet's ``DetInferencer`` for a config and checkpoint.

    Args:
        config (str | mmengine.Config): The model's config.
        checkpoint (str, optional): Its weights. Defaults to None (random weights).
        device (str): Defaults to ``'cpu'``.

    Returns:
        mmdet.apis.DetInferencer
    """
    from mmdet.apis import DetInferencer
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DetInferencer(model=config, weights=checkpoint, device=device,
                             show_progress=False)


def _classes(classes, what):
    if not classes:
        raise ValueError(f'the {what} does not say its classes (no dataset_meta in its '
                         'checkpoint); load a checkpoint saved by a training run')
    return tuple(classes)


def _classifier_classes(classifier):
    return _classes(classifier.classes, 'classifier')


def _detector_classes(model):
    return _classes((getattr(model, 'dataset_meta', None) or {}).get('classes'), 'detector')


def _classify(classifier, images, batch_size, coverage=None):
    """Probabilities (calibrated where the classifier has a trust state) and which images are
    unidentified (none without a trust state)."""
    from mmcell.uncertainty import collect_outputs
    # The inferencer's preprocessing and the model, without the inferencer's __call__, which
    # draws a progress bar on every call: the tools show one display for their whole loop.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        batches = classifier.preprocess(list(images), batch_size=batch_size)
        outputs = collect_outputs(classifier.model, batches, stream=io.StringIO())
    state = getattr(classifier, 'trust_state', None)
    if state is None:
        return outputs.logits.softmax(dim=1), torch.zeros(len(outputs.logits), dtype=torch.bool)
    applied = state.apply(outputs.logits, outputs.features, coverage)
    return applied['probs'], applied['unidentified']


def classify(classifier, images, topk=3, batch_size=8):
    """Top-k classes of cell images.

    Args:
        classifier (ImageClassificationInferencer): From :func:`init_classifier`.
        images (Sequence[str | np.ndarray]): Image paths or BGR arrays.
        topk (int): Classes to keep per image. Defaults to 3.
        batch_size (int): Defaults to 8.

    Returns:
        list[list[tuple[str, float]]]: Per image, ``(class, probability)`` from the most
        probable down (calibrated probabilities where the classifier has a trust state).
    """
    if not len(images):
        return []
    classes = _classifier_classes(classifier)
    topk = min(topk, len(classes))
    probs, _ = _classify(classifier, images, batch_size)
    ranked = []
    for scores in probs.double().numpy():
        order = np.argsort(-scores, kind='stable')[:topk]
        ranked.append([(classes[i], float(scores[i])) for i in order])
    return ranked


def _detector_model(detector):
    return detector.model if hasattr(detector, 'model') and not isinstance(
        detector, torch.nn.Module) else detector


def detect(detector, img, score_thr=0.3, tile_size=None, overlap=0.3, iou_thr=0.5):
    """Detect cells on one image, whole fields tile by tile.

    Args:
        detector (DetInferencer | nn.Module): From :func:`init_detector` or
            ``mmdet.apis.init_detector``.
        img (str | np.ndarray): Image path or BGR array.
        score_thr (float): Detections below this score are dropped. Defaults to 0.3.
        tile_size (tuple[int, int], optional): (height, width) of tiles for images larger than
            the detector was trained on (:func:`inference_detector_tiled`). Defaults to None:
            the whole image at once.
        overlap (float): Tile overlap. Defaults to 0.3.
        iou_thr (float): NMS IoU across tiles. Defaults to 0.5.

    Returns:
        dict: ``boxes`` (N, 4) float ``(x1, y1, x2, y2)``, ``scores`` (N,), ``labels`` (N,)
        class names, sorted by score.
    """
    import mmcv
    from mmdet.apis import inference_detector
    model = _detector_model(detector)
    if isinstance(img, str):
        img = mmcv.imread(img)
    h, w = img.shape[:2]
    with DefaultScope.overwrite_default_scope('mmdet'):
        if tile_size is not None and (h > tile_size[0] or w > tile_size[1]):
            pred = inference_detector_tiled(model, img, tile_size, overlap, iou_thr)
        else:
            pred = inference_detector(model, img).pred_instances
    keep = pred.scores >= score_thr
    scores = pred.scores[keep].cpu().numpy()
    order = np.argsort(-scores, kind='stable')
    classes = _detector_classes(model)
    return dict(boxes=pred.bboxes[keep].cpu().numpy()[order].astype(float),
                scores=scores[order].astype(float),
                labels=[classes[i] for i in pred.labels[keep].cpu().numpy()[order]])


def crop_cell(img, box, context=1.9):
    """A square crop around a box, ``context`` times its longer side, padded by reflection.

    Args:
        img (np.ndarray): The image.
        box (Sequence[float]): ``(x1, y1, x2, y2)``.
        context (float): Crop side over the box's longer side. Defaults to 1.9, which frames a
            white cell the way single-cell datasets (PBC, Munich AML) do.

    Returns:
        np.ndarray: The crop.
    """
    x1, y1, x2, y2 = box
    side = max(2, int(round(context * max(x2 - x1, y2 - y1))))
    left, top = int(round((x1 + x2 - side) / 2)), int(round((y1 + y2 - side) / 2))
    h, w = img.shape[:2]
    pad = max(0, -left, -top, left + side - w, top + side - h)
    if pad:
        import cv2
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    return img[top + pad:top + pad + side, left + pad:left + pad + side]


def count_cells(detector, classifier, img, white_class='WBC', score_thr=0.5, tile_size=None,
                overlap=0.3, context=1.9, coverage=None):
    """A differential count on one smear image: detect cells, classify each white cell.

    Args:
        detector (DetInferencer | nn.Module): Detects cells (e.g. CS-ARFPN on BCCD's RBC, WBC,
            Platelets).
        classifier (ImageClassificationInferencer): Classifies white-cell crops (e.g. CellViT).
        img (str | np.ndarray): Image path or BGR array.
        white_class (str): The detector's class whose boxes are classified. Defaults to 'WBC'.
        score_thr (float): Detection score threshold. Defaults to 0.5.
        tile_size (tuple[int, int], optional): Tile whole fields, see :func:`detect`.
            Defaults to None.
        overlap (float): Tile overlap. Defaults to 0.3.
        context (float): White-cell crop size, see :func:`crop_cell`. Defaults to 1.9.
        coverage (float, optional): Coverage of the conformal prediction sets of a classifier
            with a trust state. Defaults to None (the state's own, e.g. 0.95).

    Returns:
        dict: ``cells``: one dict per detection (``box``, ``label``, ``score``, and for white
        cells ``cell_class``, ``cell_score`` (its probability) and ``unidentified``);
        ``counts``: cells per detector class, white cells per classifier class and
        ``<white_class>:unidentified``; ``differential``: the white cells'
        :class:`mmcell.uncertainty.Differential` (count, percentage of the identified white
        cells and its exact binomial 95% interval per class, unidentified cells apart).
    """
    from mmcell.uncertainty import differential_counts
    import mmcv
    if isinstance(img, str):
        img = mmcv.imread(img)
    found = detect(detector, img, score_thr, tile_size, overlap)
    cells = [dict(box=box.tolist(), label=label, score=score)
             for box, label, score in zip(found['boxes'], found['labels'], found['scores'])]
    whites = [cell for cell in cells if cell['label'] == white_class]
    classes = _classifier_classes(classifier)
    if whites:
        probs, rejected = _classify(classifier, [crop_cell(img, c['box'], context)
                                                 for c in whites], 8, coverage)
        for cell, p, out in zip(whites, probs, rejected.tolist()):
            best = int(p.argmax())
            cell.update(cell_class='unidentified' if out else classes[best],
                        cell_score=float(p[best]), unidentified=out)
    found_labels = Counter(c['label'] for c in cells)
    counts = {name: found_labels[name] for name in _detector_classes(_detector_model(detector))}
    found_classes = Counter(c['cell_class'] for c in whites)
    counts.update({f'{white_class}:{name}': found_classes[name]
                   for name in (*classes, 'unidentified')})
    differential = differential_counts([c['cell_class'] for c in whites], classes)
    return dict(cells=cells, counts=counts, differential=differential)
