"""Seeded procedural blood-cell images: data that needs no download.

Two kinds, each written in the layout of a real dataset so that the same configs read them:

* single-cell crops (:func:`render_cell_crop`, :func:`write_cell_crops`) in the style of a
  May-Grünwald-Giemsa stained smear: a pale background with red cells (central pallor), and in the
  centre a cell of one of PBC's 8 classes, whose nucleus, cytoplasm and granules depend on the
  class, with stain, size and position jitter. Written in the PBC layout
  ``<root>/<class>/<PREFIX>_<n>.jpg`` (``PBCDataset`` reads ``<data_root>/PBC_dataset_normal_DIB``);
* smear fields with boxes (:func:`render_smear`, :func:`write_smears`): red cells with central
  pallor that may overlap, a few white cells drawn as in the crops, and platelets, written as
  BCCD is (Pascal VOC: ``<root>/BCCD/{JPEGImages,Annotations,ImageSets/Main}``, classes RBC, WBC,
  Platelets), with ``ground_truth.csv`` giving each field's counts, white cells per class.

The same seed gives the same files on any machine.
"""
import csv
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
from .datasets.voc import voc_xml
from .utils.progress import track

# Per class, at a 96 px crop: nucleus colour (BGR), cytoplasm colour, granule colour (None: no
# granules), cell radius range in pixels, nucleus shape, and the PBC filename prefix.
# ``platelet`` crops hold a clump of platelets instead of a white cell.
CELL_STYLES = {
    'basophil': dict(nucleus=(120, 40, 80), cytoplasm=(200, 170, 190), granules=(90, 20, 60),
                     radius=(22, 27), nucleus_shape='lobed2', prefix='BA'),
    'eosinophil': dict(nucleus=(140, 60, 110), cytoplasm=(150, 170, 235), granules=(60, 90, 220),
                       radius=(24, 29), nucleus_shape='lobed2', prefix='EO'),
    'erythroblast': dict(nucleus=(110, 30, 60), cytoplasm=(190, 150, 160), granules=None,
                         radius=(13, 16), nucleus_shape='dense', prefix='ERB'),
    'ig': dict(nucleus=(150, 70, 120), cytoplasm=(200, 185, 215), granules=(150, 110, 190),
               radius=(27, 32), nucleus_shape='oval', prefix='MY'),
    'lymphocyte': dict(nucleus=(130, 50, 90), cytoplasm=(220, 180, 160), granules=None,
                       radius=(15, 19), nucleus_shape='round', prefix='LY'),
    'monocyte': dict(nucleus=(160, 90, 130), cytoplasm=(210, 190, 195), granules=None,
                     radius=(28, 34), nucleus_shape='kidney', prefix='MO'),
    'neutrophil': dict(nucleus=(140, 55, 100), cytoplasm=(205, 195, 225), granules=(170, 130, 180),
                       radius=(23, 28), nucleus_shape='lobed4', prefix='SNE'),
    'platelet': dict(nucleus=None, cytoplasm=(170, 120, 170), granules=(120, 50, 110),
                     radius=(4, 7), nucleus_shape=None, prefix='PLT'),
}
WHITE_CELLS = tuple(name for name in CELL_STYLES if name not in ('platelet', 'erythroblast'))
SMEAR_CLASSES = ('RBC', 'WBC', 'Platelets')  # BCCD's
RED_CELL_RADIUS = 11.5  # at a 96 px crop: the scale between crops and smears


def _jitter(rng, colour, amount):
    return tuple(int(np.clip(c + rng.normal(0, amount), 0, 255)) for c in colour)


def _draw_red_cell(img, rng, centre, axes, colour):
    """Draw a red cell (an ellipse with a pale centre); returns its box."""
    angle = rng.uniform(0, 180)
    cv2.ellipse(img, centre, axes, angle, 0, 360, colour, -1, cv2.LINE_AA)
    rim = tuple(int(c * 0.9) for c in colour)
    cv2.ellipse(img, centre, axes, angle, 0, 360, rim, 1, cv2.LINE_AA)
    pallor = tuple(int(c + 0.45 * (255 - c)) for c in colour)
    cv2.ellipse(img, centre, tuple(max(1, int(a * 0.4)) for a in axes), angle, 0, 360, pallor, -1,
                cv2.LINE_AA)
    t = np.radians(angle)
    half_w = np.hypot(axes[0] * np.cos(t), axes[1] * np.sin(t))
    half_h = np.hypot(axes[0] * np.sin(t), axes[1] * np.cos(t))
    return (centre[0] - half_w, centre[1] - half_h, centre[0] + half_w, centre[1] + half_h)


def _draw_nucleus(img, rng, centre, radius, shape, colour):
    cx, cy = centre
    if shape in ('round', 'dense'):
        cv2.circle(img, centre, int(radius * (0.85 if shape == 'round' else 0.7)), colour, -1,
                   cv2.LINE_AA)
    elif shape == 'oval':  # eccentric oval nucleus
        angle = rng.uniform(0, 2 * np.pi)
        offset = (int(cx + 0.25 * radius * np.cos(angle)), int(cy + 0.25 * radius * np.sin(angle)))
        cv2.ellipse(img, offset, (int(radius * 0.6), int(radius * 0.42)), np.degrees(angle), 0,
                    360, colour, -1, cv2.LINE_AA)
    elif shape == 'kidney':
        axes = (int(radius * 0.7), int(radius * 0.45))
        angle = rng.uniform(0, 180)
        cv2.ellipse(img, centre, axes, angle, 0, 360, colour, -1, cv2.LINE_AA)
        notch = (int(cx + 0.5 * radius * np.cos(np.radians(angle + 90))),
                 int(cy + 0.5 * radius * np.sin(np.radians(angle + 90))))
        cv2.circle(img, notch, int(radius * 0.3), (0, 0, 0), -1, cv2.LINE_AA)
    else:  # lobed2 / lobed4: lobes on an arc joined by thin strands
        lobes = 2 if shape == 'lobed2' else int(rng.integers(3, 5))
        start = rng.uniform(0, 2 * np.pi)
        points = []
        for i in range(lobes):
            a = start + i * 2.2 / lobes * np.pi / 1.1
            points.append((int(cx + 0.45 * radius * np.cos(a)),
                           int(cy + 0.45 * radius * np.sin(a))))
        for p, q in zip(points, points[1:]):
            cv2.line(img, p, q, colour, max(1, radius // 10), cv2.LINE_AA)
        for p in points:
            lobe = int(radius * (0.38 if lobes == 2 else 0.28))
            cv2.circle(img, p, lobe, colour, -1, cv2.LINE_AA)


def _draw_platelets(img, rng, centre, scale, style, count):
    """A clump of ``count`` platelets around ``centre``; returns their (x, y, r) discs."""
    discs = []
    for _ in range(count):
        r = max(2, int(rng.uniform(*style['radius']) * scale))
        x = int(centre[0] + rng.normal(0, 1.5 * r * (count > 1)))
        y = int(centre[1] + rng.normal(0, 1.5 * r * (count > 1)))
        cv2.circle(img, (x, y), r, _jitter(rng, style['cytoplasm'], 10), -1, cv2.LINE_AA)
        granule = _jitter(rng, style['granules'], 10)
        for _ in range(3):
            g = (int(x + rng.normal(0, r / 3)), int(y + rng.normal(0, r / 3)))
            cv2.circle(img, g, max(1, r // 3), granule, -1)
        discs.append((x, y, r))
    return discs


def _draw_white_cell(img, rng, centre, cell_class, scale):
    """Draw a white cell (or erythroblast) of ``cell_class``; returns its box."""
    style = CELL_STYLES[cell_class]
    radius = int(rng.uniform(*style['radius']) * scale)
    cytoplasm = np.zeros_like(img)
    cv2.ellipse(cytoplasm, centre, (radius, int(radius * rng.uniform(0.85, 1.0))),
                rng.uniform(0, 180), 0, 360, _jitter(rng, style['cytoplasm'], 8), -1, cv2.LINE_AA)
    if style['granules'] is not None:
        granule = _jitter(rng, style['granules'], 10)
        for _ in range(int(40 * scale**2)):
            r, a = radius * np.sqrt(rng.uniform(0, 0.9)), rng.uniform(0, 2 * np.pi)
            g = (int(centre[0] + r * np.cos(a)), int(centre[1] + r * np.sin(a)))
            cv2.circle(cytoplasm, g, max(1, int(1.2 * scale)), granule, -1)
    nucleus = np.zeros_like(img)
    _draw_nucleus(nucleus, rng, centre, radius, style['nucleus_shape'],
                  _jitter(rng, style['nucleus'], 10))
    # Black pixels of a layer are transparent (the notch of a kidney nucleus shows cytoplasm).
    for layer in (cytoplasm, nucleus):
        mask = layer.any(axis=2)
        img[mask] = layer[mask]
    return (centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius)


def _finish(img, rng, blur):
    img = cv2.GaussianBlur(img, (0, 0), blur)
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def render_cell_crop(cell_class, rng, size=96):
    """Render one single-cell crop.

    Args:
        cell_class (str): One of :data:`CELL_STYLES`.
        rng (numpy.random.Generator): The random source; its state decides everything drawn.
        size (int): Side of the square image in pixels. Defaults to 96.

    Returns:
        numpy.ndarray: A ``(size, size, 3)`` uint8 BGR image.
    """
    scale = size / 96
    img = np.empty((size, size, 3), np.uint8)
    img[:] = _jitter(rng, (215, 225, 240), 8)
    red = _jitter(rng, (150, 150, 225), 10)
    for _ in range(int(rng.integers(3, 8))):  # red cells around the centre cell
        radius = int(rng.uniform(10, 13) * scale)
        _draw_red_cell(img, rng, tuple(int(v) for v in rng.integers(0, size, 2)),
                       (radius, radius), _jitter(rng, red, 5))
    centre = tuple(int(size / 2 + rng.normal(0, 3 * scale)) for _ in range(2))
    if cell_class == 'platelet':
        _draw_platelets(img, rng, centre, scale, CELL_STYLES['platelet'], int(rng.integers(2, 5)))
    else:
        _draw_white_cell(img, rng, centre, cell_class, scale)
    return _finish(img, rng, blur=0.8 * scale)


def _check_classes(classes):
    classes = list(classes or CELL_STYLES)
    unknown = sorted(set(classes) - set(CELL_STYLES))
    if unknown:
        raise ValueError(f'unknown cell classes {unknown}; known: {sorted(CELL_STYLES)}')
    return classes


def write_cell_crops(root, num_per_class, classes=None, size=96, seed=0):
    """Write single-cell crops in the PBC layout ``<root>/<class>/<PREFIX>_<n>.jpg``.

    Args:
        root (str): Output folder (created); ``PBCDataset`` reads it as
            ``<data_root>/PBC_dataset_normal_DIB``.
        num_per_class (int): Images per class.
        classes (Sequence[str], optional): Classes to draw. Defaults to all of
            :data:`CELL_STYLES`.
        size (int): Image side in pixels. Defaults to 96.
        seed (int): Random seed; the same seed writes the same images. Defaults to 0.

    Returns:
        list[str]: The written file paths, class by class.
    """
    classes = _check_classes(classes)
    rng = np.random.default_rng(seed)
    paths = []
    for cell_class in classes:
        Path(root, cell_class).mkdir(parents=True, exist_ok=True)
    crops = [(cell_class, i) for cell_class in classes for i in range(num_per_class)]
    for cell_class, i in track(crops, description=f'synthetic cell crops in {root}'):
        path = osp.join(root, cell_class, f"{CELL_STYLES[cell_class]['prefix']}_{i:05d}.jpg")
        cv2.imwrite(path, render_cell_crop(cell_class, rng, size), [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths


def _free(centre, radius, discs, overlap):
    """Whether a disc keeps at least ``1 - overlap`` of its radius clear of every other disc."""
    return all(np.hypot(centre[0] - x, centre[1] - y) >= (1 - overlap) * radius + r
               for x, y, r in discs)


def render_smear(rng, size=(480, 640), red_radius=(22, 28), num_red=(25, 40), num_white=(1, 3),
                 num_platelets=(0, 4), white_classes=WHITE_CELLS, overlap=0.35):
    """Render one smear field and its boxes.

    White cells are placed first, then red cells (each may overlap its neighbours by up to
    ``overlap`` of its radius, never a white cell), then platelets in the gaps. A cell is boxed
    where it lies inside the image; a cell the border cuts is kept when at least half its box
    shows (BCCD boxes such cells too).

    Args:
        rng (numpy.random.Generator): The random source.
        size (tuple[int, int]): (height, width). Defaults to BCCD's (480, 640).
        red_radius (tuple[float, float]): Red-cell radius range in pixels; white cells and
            platelets are scaled to match (as in the crops). Defaults to (22, 28).
        num_red, num_white, num_platelets (tuple[int, int]): Ranges (inclusive) of how many
            cells of each kind to try to place (red cells that find no room are left out).
            Default to (25, 40), (1, 3) and (0, 4).
        white_classes (Sequence[str]): Classes the white cells are drawn from. Defaults to
            :data:`WHITE_CELLS`.
        overlap (float): Largest overlap between red cells, a fraction of the radius.
            Defaults to 0.35.

    Returns:
        tuple: The ``(H, W, 3)`` uint8 BGR image, the boxes ``(N, 4)`` as float32
        ``(x1, y1, x2, y2)``, the box labels (names from :data:`SMEAR_CLASSES`) and, per box,
        the cell class (a white cell's class from :data:`CELL_STYLES`, else the label).
    """
    h, w = size
    scale = float(np.mean(red_radius)) / RED_CELL_RADIUS
    img = np.empty((h, w, 3), np.uint8)
    img[:] = _jitter(rng, (215, 225, 240), 8)
    discs, objects = [], []

    def place(radius, tries=50, **kw):
        for _ in range(tries):
            c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            if _free(c, radius, discs, **kw):
                return c
        return None

    # White cells first; draw them last so red cells never cover them.
    whites = []
    for _ in range(int(rng.integers(num_white[0], num_white[1] + 1))):
        cell_class = white_classes[int(rng.integers(len(white_classes)))]
        outer = CELL_STYLES[cell_class]['radius'][1] * scale
        centre = place(outer, overlap=0)
        if centre is not None:
            discs.append((*centre, outer))
            whites.append((centre, cell_class))
    red = _jitter(rng, (150, 150, 225), 10)
    for _ in range(int(rng.integers(num_red[0], num_red[1] + 1))):
        radius = rng.uniform(*red_radius)
        centre = place(radius, overlap=overlap)
        if centre is None:
            continue
        axes = (int(radius), int(radius * rng.uniform(0.85, 1.0)))
        box = _draw_red_cell(img, rng, centre, axes, _jitter(rng, red, 6))
        discs.append((*centre, radius))
        objects.append((box, 'RBC', 'RBC'))
    for centre, cell_class in whites:
        objects.append((_draw_white_cell(img, rng, centre, cell_class, scale), 'WBC', cell_class))
    for _ in range(int(rng.integers(num_platelets[0], num_platelets[1] + 1))):
        radius = CELL_STYLES['platelet']['radius'][1] * scale
        centre = place(radius * 2, overlap=0)
        if centre is None:
            continue
        clump = _draw_platelets(img, rng, centre, scale, CELL_STYLES['platelet'],
                                int(rng.integers(1, 3)))
        box = (min(x - r for x, _, r in clump), min(y - r for _, y, r in clump),
               max(x + r for x, _, r in clump), max(y + r for _, y, r in clump))
        discs.append((*centre, 2 * radius))
        objects.append((box, 'Platelets', 'Platelets'))

    boxes, labels, cell_classes = [], [], []
    for full, label, cell_class in objects:
        full = np.asarray(full, float)
        box = np.clip(full, 0, [w, h, w, h])
        if (box[2] - box[0]) * (box[3] - box[1]) < 0.5 * (full[2] - full[0]) * (full[3] - full[1]):
            continue
        boxes.append(box)
        labels.append(label)
        cell_classes.append(cell_class)
    return (_finish(img, rng, blur=0.8), np.array(boxes, np.float32).reshape(-1, 4), labels,
            cell_classes)


def write_smears(root, num_images, seed=0, **render_kwargs):
    """Write smear fields in BCCD's Pascal VOC layout, with their ground-truth counts.

    Files: ``<root>/BCCD/JPEGImages/Smear_<n>.jpg``, ``<root>/BCCD/Annotations/Smear_<n>.xml``,
    ``<root>/BCCD/ImageSets/Main/<split>.txt`` and ``<root>/BCCD/ground_truth.csv`` (per image:
    split, RBC, WBC and Platelets counts, then white cells per :data:`CELL_STYLES` class, the
    classes a CellViT trained on the crops tells apart; those never drawn in smears stay 0).

    Args:
        root (str): Output folder (created); configs read it as BCCD's ``data_root``.
        num_images (dict[str, int]): Images per split, e.g. ``dict(train=40, val=8, test=8)``.
        seed (int): Random seed; the same seed writes the same files. Defaults to 0.
        **render_kwargs: Passed to :func:`render_smear`.

    Returns:
        list[dict]: Per image: ``name``, ``split``, ``path`` and ``counts`` (a dict).
    """
    voc = Path(root, 'BCCD')
    for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    records = []
    smears = [(split, k) for split, count in num_images.items() for k in range(count)]
    names = {split: [] for split in num_images}
    for split, _ in track(smears, description=f'synthetic smears in {root}'):
        name = f'Smear_{len(records):05d}'
        img, boxes, labels, cell_classes = render_smear(rng, **render_kwargs)
        path = voc / 'JPEGImages' / f'{name}.jpg'
        cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        (voc / 'Annotations' / f'{name}.xml').write_text(
            voc_xml(f'{name}.jpg', img.shape, boxes, labels))
        counts = {c: labels.count(c) for c in SMEAR_CLASSES}
        counts.update({c: cell_classes.count(c) for c in CELL_STYLES})
        records.append(dict(name=name, split=split, path=str(path), counts=counts))
        names[split].append(name)
    for split, split_names in names.items():
        (voc / 'ImageSets' / 'Main' / f'{split}.txt').write_text(
            ''.join(f'{n}\n' for n in split_names))
    with open(voc / 'ground_truth.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'split', *SMEAR_CLASSES, *CELL_STYLES])
        for r in records:
            writer.writerow([r['name'], r['split'],
                             *(r['counts'][c] for c in (*SMEAR_CLASSES, *CELL_STYLES))])
    return records
