"""Seeded procedural blood-cell images: data that needs no download.

:func:`render_cell_crop` draws one single-cell crop in the style of a May-Grünwald-Giemsa stained
smear: a pale background with red cells (central pallor), and in the centre a white cell whose
nucleus, cytoplasm and granules depend on its class, with stain, size and position jitter.
:func:`write_cell_crops` writes a set of them in the PBC layout (``<root>/<class>/<PREFIX>_<n>.jpg``),
which mmpretrain's ``CustomDataset`` reads as it is.

The same seed gives the same files on any machine.
"""
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
from mmengine.utils import ProgressBar

# Per class: nucleus colour (BGR), cytoplasm colour, granule colour (None: no granules),
# cell radius range in pixels at 96 px, nucleus shape, and the PBC-style filename prefix.
CELL_STYLES = {
    'basophil': dict(nucleus=(120, 40, 80), cytoplasm=(200, 170, 190), granules=(90, 20, 60),
                     radius=(22, 27), nucleus_shape='lobed2', prefix='BA'),
    'eosinophil': dict(nucleus=(140, 60, 110), cytoplasm=(150, 170, 235), granules=(60, 90, 220),
                       radius=(24, 29), nucleus_shape='lobed2', prefix='EO'),
    'lymphocyte': dict(nucleus=(130, 50, 90), cytoplasm=(220, 180, 160), granules=None,
                       radius=(15, 19), nucleus_shape='round', prefix='LY'),
    'monocyte': dict(nucleus=(160, 90, 130), cytoplasm=(210, 190, 195), granules=None,
                     radius=(28, 34), nucleus_shape='kidney', prefix='MO'),
    'neutrophil': dict(nucleus=(140, 55, 100), cytoplasm=(205, 195, 225), granules=(170, 130, 180),
                       radius=(23, 28), nucleus_shape='lobed4', prefix='SNE'),
}


def _jitter(rng, colour, amount):
    return tuple(int(np.clip(c + rng.normal(0, amount), 0, 255)) for c in colour)


def _draw_red_cell(img, rng, centre, radius, colour):
    cv2.circle(img, centre, radius, colour, -1, cv2.LINE_AA)
    pallor = tuple(int(c + 0.45 * (255 - c)) for c in colour)
    cv2.circle(img, centre, max(1, int(radius * 0.4)), pallor, -1, cv2.LINE_AA)


def _draw_nucleus(img, rng, centre, radius, shape, colour):
    cx, cy = centre
    if shape == 'round':
        cv2.circle(img, centre, int(radius * 0.85), colour, -1, cv2.LINE_AA)
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
            points.append((int(cx + 0.45 * radius * np.cos(a)), int(cy + 0.45 * radius * np.sin(a))))
        for p, q in zip(points, points[1:]):
            cv2.line(img, p, q, colour, max(1, radius // 10), cv2.LINE_AA)
        for p in points:
            cv2.circle(img, p, int(radius * (0.38 if lobes == 2 else 0.28)), colour, -1, cv2.LINE_AA)


def render_cell_crop(cell_class, rng, size=96):
    """Render one single-cell crop.

    Args:
        cell_class (str): One of :data:`CELL_STYLES`.
        rng (numpy.random.Generator): The random source; its state decides everything drawn.
        size (int): Side of the square image in pixels. Defaults to 96.

    Returns:
        numpy.ndarray: A ``(size, size, 3)`` uint8 BGR image.
    """
    style = CELL_STYLES[cell_class]
    scale = size / 96
    background = _jitter(rng, (215, 225, 240), 8)
    img = np.empty((size, size, 3), np.uint8)
    img[:] = background
    red = _jitter(rng, (150, 150, 225), 10)
    for _ in range(int(rng.integers(3, 8))):  # red cells around the white cell
        _draw_red_cell(img, rng, tuple(int(v) for v in rng.integers(0, size, 2)),
                       int(rng.uniform(10, 13) * scale), _jitter(rng, red, 5))

    centre = tuple(int(size / 2 + rng.normal(0, 3 * scale)) for _ in range(2))
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

    img = cv2.GaussianBlur(img, (0, 0), 0.8 * scale)
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def write_cell_crops(root, num_per_class, classes=None, size=96, seed=0):
    """Write single-cell crops in the PBC layout ``<root>/<class>/<PREFIX>_<n>.jpg``.

    Args:
        root (str): Output folder (created).
        num_per_class (int): Images per class.
        classes (Sequence[str], optional): Classes to draw. Defaults to all of
            :data:`CELL_STYLES`.
        size (int): Image side in pixels. Defaults to 96.
        seed (int): Random seed; the same seed writes the same images. Defaults to 0.

    Returns:
        list[str]: The written file paths, class by class.
    """
    classes = list(classes or CELL_STYLES)
    unknown = sorted(set(classes) - set(CELL_STYLES))
    if unknown:
        raise ValueError(f'unknown cell classes {unknown}; known: {sorted(CELL_STYLES)}')
    rng = np.random.default_rng(seed)
    paths = []
    progress = ProgressBar(num_per_class * len(classes))
    for cell_class in classes:
        folder = Path(root, cell_class)
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(num_per_class):
            path = osp.join(folder, f"{CELL_STYLES[cell_class]['prefix']}_{i:05d}.jpg")
            cv2.imwrite(path, render_cell_crop(cell_class, rng, size), [cv2.IMWRITE_JPEG_QUALITY, 95])
            paths.append(path)
            progress.update()
    print()
    return paths
