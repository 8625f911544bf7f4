"""Cut whole smear fields into overlapping tiles, and put tile detections back together.

Song et al. (2021) cut ~1418x1420 CellaVision fields into 375x500 patches with 30% overlap;
cells cut by a patch border form their "edge cell" class. :func:`tile_windows` places the tiles,
:func:`boxes_in_tile` carries the boxes into one tile, and :func:`merge_tile_detections` maps
detections of the tiles back to the field and removes the duplicates of the overlaps with NMS.
"""
import numpy as np
import torch
from torchvision.ops import batched_nms


def _starts(length, tile, step):
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]  # the last tile ends at the border


def tile_windows(height, width, tile_size, overlap=0.3):
    """Tiles (x1, y1, x2, y2) covering an image, neighbours overlapping by ``overlap``.

    Args:
        height (int): Image height.
        width (int): Image width.
        tile_size (tuple[int, int]): Tile (height, width); smaller images give one tile.
        overlap (float): Fraction of a tile shared with its neighbour, in [0, 1).
            Defaults to 0.3.

    Returns:
        list[tuple[int, int, int, int]]: The windows, row by row.
    """
    if not 0 <= overlap < 1:
        raise ValueError(f'overlap must be in [0, 1), got {overlap}')
    th, tw = tile_size
    ys = _starts(height, th, max(1, round(th * (1 - overlap))))
    xs = _starts(width, tw, max(1, round(tw * (1 - overlap))))
    return [(x, y, min(x + tw, width), min(y + th, height)) for y in ys for x in xs]


def boxes_in_tile(boxes, labels, window, border='clip', min_visible=0.5, edge_label=None):
    """The boxes of one tile, in its coordinates.

    Args:
        boxes (np.ndarray): (N, 4) x1, y1, x2, y2 in image pixels.
        labels (np.ndarray): (N, ) labels.
        window (tuple[int, int, int, int]): The tile.
        border (str): What to do with a box the border cuts: ``'clip'`` keeps the visible part
            if at least ``min_visible`` of its area is inside, ``'drop'`` drops it, ``'edge'``
            keeps the visible part labelled ``edge_label`` (the paper's edge cells).
            Defaults to 'clip'.
        min_visible (float): See ``border='clip'``. Defaults to 0.5.
        edge_label (int, optional): Label of cut cells for ``border='edge'``.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: Boxes (M, 4) in tile pixels, their labels,
        and the indices of the source boxes.
    """
    if border not in ('clip', 'drop', 'edge'):
        raise ValueError(f"border must be 'clip', 'drop' or 'edge', got {border!r}")
    if border == 'edge' and edge_label is None:
        raise ValueError("border='edge' needs edge_label")
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    labels = np.asarray(labels).copy()
    x1, y1, x2, y2 = window
    clipped = np.stack([boxes[:, 0].clip(x1, x2), boxes[:, 1].clip(y1, y2),
                        boxes[:, 2].clip(x1, x2), boxes[:, 3].clip(y1, y2)], axis=1)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    visible = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    inside = visible > 0
    whole = inside & (visible >= area - 1e-6)
    if border == 'drop':
        keep = whole
    elif border == 'clip':
        keep = inside & (visible >= min_visible * np.maximum(area, 1e-6))
    else:
        keep = inside
        labels[inside & ~whole] = edge_label
    index = np.flatnonzero(keep)
    return clipped[index] - [x1, y1, x1, y1], labels[index], index


def merge_tile_detections(tile_results, iou_thr=0.5, image_size=None, border_margin=2):
    """Detections of all tiles in image coordinates, duplicates from the overlaps removed.

    A cell cut by a tile border is seen whole in a neighbouring tile when the overlap is larger
    than a cell (30% of a 375x500 tile is over 100 px; cells are 20-40 px), so with
    ``image_size`` given, detections touching a tile border that is not the image border are
    dropped first; class-wise NMS then removes the remaining duplicates.

    Args:
        tile_results (Sequence[tuple]): Per tile ``(window, boxes, scores, labels)``, boxes
            (K, 4) in tile pixels.
        iou_thr (float): Class-wise NMS IoU. Defaults to 0.5.
        image_size (tuple[int, int], optional): Image (height, width), to tell inner tile
            borders from image borders. Defaults to None (NMS only).
        border_margin (float): How close to an inner border (px) counts as touching it.
            Defaults to 2.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: Boxes (M, 4), scores, labels.
    """
    boxes, scores, labels = [], [], []
    for (x1, y1, x2, y2), b, s, lab in tile_results:
        b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
        keep = np.ones(len(b), bool)
        if image_size is not None:
            h, w = image_size
            m = border_margin
            keep &= (x1 == 0) | (b[:, 0] > m)
            keep &= (y1 == 0) | (b[:, 1] > m)
            keep &= (x2 >= w) | (b[:, 2] < x2 - x1 - m)
            keep &= (y2 >= h) | (b[:, 3] < y2 - y1 - m)
        boxes.append(b[keep] + [x1, y1, x1, y1])
        scores.append(np.asarray(s, dtype=np.float32).reshape(-1)[keep])
        labels.append(np.asarray(lab, dtype=np.int64).reshape(-1)[keep])
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    boxes, scores, labels = map(np.concatenate, (boxes, scores, labels))
    boxes, scores = boxes.astype(np.float32), scores.astype(np.float32)
    keep = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                       torch.from_numpy(labels), iou_thr).numpy()
    return boxes[keep], scores[keep], labels[keep]
