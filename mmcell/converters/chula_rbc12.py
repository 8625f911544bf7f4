"""Chula-RBC-12 (Naruenatthanaset et al., 2021): point labels of red cells, and boxes for them.

The dataset labels each red cell by its centre (``Label/<n>.txt``: ``x y type`` per line) in
640x480 smear images (``Dataset/<n>.jpg``). Detectors need boxes, so :func:`estimate_cell_boxes`
measures each labelled cell in the image: the cells are segmented from the background (Otsu
threshold on the blurred green channel, central pallor filled), and a marker-based watershed on
the distance transform splits touching cells, seeded by the labelled centres plus the centres of
unlabelled cells (distance-transform peaks far from every label), so that a labelled cell does
not swallow an unlabelled neighbour. Each labelled cell's box is the extent of its region.
"""
import cv2
import numpy as np

CHULA_CLASSES = ('normal cell', 'macrocyte', 'microcyte', 'spherocyte', 'target cell',
                 'stomatocyte', 'ovalocyte', 'teardrop', 'burr cell', 'schistocyte',
                 'uncategorised', 'hypochromia', 'elliptocyte')


def read_chula_points(path):
    """Read a Chula label file into an (N, 3) int array of ``x, y, type``.

    Raises:
        ValueError: A line that is not three integers, or a type outside 0-12 (file and line
            named).
    """
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 3 or not all(p.lstrip('-').isdigit() for p in parts):
                raise ValueError(
                    f'{path}, line {number}: expected "x y type", got {line.strip()!r}')
            x, y, cls = map(int, parts)
            if not 0 <= cls < len(CHULA_CLASSES):
                raise ValueError(f'{path}, line {number}: type {cls} is not in 0-12')
            rows.append((x, y, cls))
    return np.array(rows, dtype=int).reshape(-1, 3)


def cell_mask(img):
    """Foreground (cells) of a BGR smear image, holes (central pallor) filled."""
    green = cv2.GaussianBlur(img[..., 1], (5, 5), 0)
    _, mask = cv2.threshold(green, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 255, cv2.FILLED)
    return filled


def estimate_cell_boxes(img, points, min_radius=4):
    """Estimate a box (x1, y1, x2, y2) for the cell at each point of a smear image.

    Args:
        img (np.ndarray): BGR image.
        points (np.ndarray): (N, 2) cell centres (x, y).
        min_radius (int): Smallest half-size of a box, for a point on the background.
            Defaults to 4.

    Returns:
        np.ndarray: (N, 4) float boxes, clipped to the image.
    """
    h, w = img.shape[:2]
    points = np.asarray(points, dtype=int).reshape(-1, 2).clip(0, [w - 1, h - 1])
    mask = cell_mask(img)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    # Radius of each labelled cell: the largest distance to the background near its point.
    near = cv2.dilate(dist, np.ones((7, 7), np.uint8))
    radii = np.maximum(near[points[:, 1], points[:, 0]], min_radius)
    typical = float(np.median(radii)) if len(radii) else 10.
    # Centres of unlabelled cells: distance-transform peaks away from every labelled point.
    peaks = (dist == cv2.dilate(dist, np.ones((9, 9), np.uint8))) & (dist > 0.5 * typical)
    ys, xs = np.nonzero(peaks)
    extra = []
    for x, y in zip(xs, ys):
        if (len(points) == 0 or np.hypot(*(points - (x, y)).T).min() > 1.2 * typical) and \
                all(np.hypot(x - ex, y - ey) > typical for ex, ey in extra):
            extra.append((x, y))
    markers = np.zeros((h, w), np.int32)
    markers[mask == 0] = 1  # background
    for k, (x, y) in enumerate([*map(tuple, points), *extra]):
        cv2.circle(markers, (int(x), int(y)), 2, k + 2, -1)
    relief = cv2.cvtColor(cv2.normalize(-dist, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8),
                          cv2.COLOR_GRAY2BGR)
    regions = cv2.watershed(relief, markers)

    boxes = np.zeros((len(points), 4), np.float32)
    for k, ((x, y), r) in enumerate(zip(points, radii)):
        ys, xs = np.nonzero(regions == k + 2)
        box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) if len(xs) else None
        # A region far larger than the cell's inscribed circle (a merge the seeds missed), a
        # sliver (a point on a cell's rim or on debris), or none at all: fall back to a circle,
        # of the typical cell size where the point's own is implausibly small.
        sides = None if box is None else (box[2] - box[0], box[3] - box[1])
        if sides is None or max(sides) > 4 * r or min(sides) < 1.2 * typical or \
                min(sides) < 0.45 * max(sides):
            r = max(r, typical)
            box = (x - r, y - r, x + r + 1, y + r + 1)
        boxes[k] = box
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
    return boxes


def split_coco(coco, fractions, seed=0):
    """A seeded split of a COCO dict's images (with their boxes) into parts.

    Args:
        coco (dict): ``images``, ``annotations`` and ``categories``.
        fractions (dict[str, float]): Share of the images per part, in order, e.g.
            ``dict(train=0.7, val=0.15, test=0.15)``; they must sum to 1. Each part gets the
            rounded share of the images, the last one the rest.
        seed (int): Seed of the image order. Defaults to 0.

    Returns:
        tuple[dict, dict]: The COCO dict of each part, and its box count per category id.

    Raises:
        ValueError: Fractions that do not sum to 1 or a part left without images.

    Example:
        >>> coco = dict(images=[dict(id=i) for i in range(1, 11)], categories=[dict(id=0)],
        ...             annotations=[dict(id=i, image_id=i, category_id=0) for i in range(1, 11)])
        >>> parts, counts = split_coco(coco, dict(train=0.6, val=0.2, test=0.2), seed=0)
        >>> [len(p['images']) for p in parts.values()], counts['train']
        ([6, 2, 2], {0: 6})
    """
    if abs(sum(fractions.values()) - 1) > 1e-6:
        raise ValueError(f'split fractions must sum to 1, got {fractions}')
    images = [coco['images'][k] for k in
              np.random.default_rng(seed).permutation(len(coco['images']))]
    parts, counts, start = {}, {}, 0
    names = list(fractions)
    for k, name in enumerate(names):
        end = len(images) if k == len(names) - 1 else start + round(fractions[name] * len(images))
        if end <= start:
            raise ValueError(f'split part {name!r} gets no image of {len(images)}')
        ids = {image['id'] for image in images[start:end]}
        boxes = [a for a in coco['annotations'] if a['image_id'] in ids]
        parts[name] = dict(coco, images=sorted(images[start:end], key=lambda i: i['id']),
                           annotations=boxes)
        counts[name] = {c['id']: sum(a['category_id'] == c['id'] for a in boxes)
                        for c in coco['categories']}
        start = end
    return parts, counts
