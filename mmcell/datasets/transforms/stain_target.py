"""A training set's colour and framing statistics: what stain augmentation draws around, what
stain normalisation maps onto and what cell re-framing scales to.

``tools/analysis_tools/fit_stain_target.py`` fits one from a config's training split and writes it
as JSON; configs name the file (``configs/_base_/datasets/pbc_stain_target.json`` is PBC's).
"""
import json
import os.path as osp
from dataclasses import asdict, dataclass, fields
from typing import Iterable, Optional, Sequence, Tuple

import numpy as np

from .colour import ROMANOWSKY_RGB_FROM_STAINS, lab_statistics, stain_basis, to_rgb_float

__all__ = ['StainTarget', 'load_stain_target', 'context_mask', 'background', 'optical_density',
           'macenko_stains', 'fit_stain_target']

_VECTORS = {'lab_mean': 3, 'lab_std': 3, 'lab_mean_spread': 3, 'lab_std_spread': 3,
            'context_lab_mean': 3, 'context_lab_std': 3,
            'eosin': 3, 'methylene_blue': 3, 'max_concentrations': 2, 'background': 3}


@dataclass
class StainTarget:
    """Colour and framing statistics of a training set.

    Attributes:
        lab_mean (tuple): Mean over images of each image's LAB channel means.
        lab_std (tuple): Mean over images of each image's LAB channel standard deviations.
        lab_mean_spread (tuple): Standard deviation over images of the LAB means.
        lab_std_spread (tuple): Standard deviation over images of the LAB standard deviations.
        context_lab_mean (tuple): Like ``lab_mean``, over each image's pixels outside its white
            cell (:func:`context_mask`): the background and red cells, whose colours do not
            depend on the white cell's class.
        context_lab_std (tuple): Like ``lab_std``, over the same pixels.
        eosin (tuple): Eosin's unit optical-density vector (Macenko, median over images).
        methylene_blue (tuple): Methylene blue's unit optical-density vector (likewise).
        max_concentrations (tuple): 99th-percentile concentrations of the two stains
            (eosin, methylene blue; median over images): Macenko's scale.
        background (tuple): The background's RGB colour in [0, 1] (:func:`background`; median
            over images): the light that Macenko's optical densities are taken against.
        cell_fraction (float): Median over images of the white cell's diameter over the image
            side (:func:`mmcell.datasets.transforms.find_cell`).
        images (int): How many images were measured.
        source (str): What they were (config and split).
    """
    lab_mean: Tuple[float, ...]
    lab_std: Tuple[float, ...]
    lab_mean_spread: Tuple[float, ...]
    lab_std_spread: Tuple[float, ...]
    context_lab_mean: Tuple[float, ...]
    context_lab_std: Tuple[float, ...]
    eosin: Tuple[float, ...]
    methylene_blue: Tuple[float, ...]
    max_concentrations: Tuple[float, ...]
    background: Tuple[float, ...]
    cell_fraction: float
    images: int
    source: str = ''

    def rgb_from_stains(self) -> np.ndarray:
        """The stain basis (rows eosin, methylene blue, residual) of these vectors."""
        return stain_basis(self.eosin, self.methylene_blue)

    def save(self, path: str) -> None:
        """Write the target as JSON."""
        with open(path, 'w') as f:
            json.dump(asdict(self), f, indent=2)
            f.write('\n')


def load_stain_target(path: str) -> StainTarget:
    """Read a stain target written by ``fit_stain_target.py``, checking every field.

    Args:
        path (str): The JSON file.

    Returns:
        StainTarget: The target.

    Raises:
        FileNotFoundError: If there is no such file.
        ValueError: If it is not JSON or a field is missing or malformed; names the file and field.

    Example:
        >>> import os, tempfile
        >>> from mmcell.datasets.transforms import load_stain_target
        >>> target = load_stain_target('configs/_base_/datasets/pbc_stain_target.json')
        >>> target.images
        1680
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'stain target {path}: no such file (fit one with '
                                'tools/analysis_tools/fit_stain_target.py)')
    try:
        with open(path) as f:
            raw = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'stain target {path}: not JSON ({err})') from None
    if not isinstance(raw, dict):
        raise ValueError(f'stain target {path}: expected a JSON object')
    values = {}
    for field in fields(StainTarget):
        if field.name not in raw:
            if field.name == 'source':
                continue
            raise ValueError(f'stain target {path}: no "{field.name}"')
        value = raw[field.name]
        try:
            if field.name in _VECTORS:
                value = tuple(float(v) for v in value)
                if len(value) != _VECTORS[field.name] or not np.all(np.isfinite(value)) or (
                        field.name == 'background' and not all(0 < v <= 1 for v in value)):
                    raise ValueError
            elif field.name == 'cell_fraction':
                value = float(value)
                if not 0 < value <= 1:
                    raise ValueError
            elif field.name == 'images':
                value = int(value)
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise ValueError(f'stain target {path}: "{field.name}" is malformed '
                             f'({raw[field.name]!r})') from None
        values[field.name] = value
    if min(values['lab_std'] + values['context_lab_std']) <= 0 or min(values['max_concentrations']) <= 0:
        raise ValueError(f'stain target {path}: standard deviations and concentrations must be '
                         'positive')
    return StainTarget(**values)


def context_mask(rgb: np.ndarray, cell: Optional[Tuple[float, float, float]] = None,
                 margin: float = 1.5) -> np.ndarray:
    """The pixels of a crop outside its white cell: background and red cells.

    Args:
        rgb (np.ndarray): HxWx3 RGB floats in [0, 1].
        cell (tuple, optional): ``(row, column, diameter)`` of the white cell. Defaults to None
            (:func:`~mmcell.datasets.transforms.find_cell`).
        margin (float): The disc left out has ``margin`` times the cell's radius (the stained
            blob is the nucleus; the cytoplasm lies around it). Defaults to 1.5.

    Returns:
        np.ndarray: HxW booleans; all True where no cell is found, or where the disc would
        leave fewer than a tenth of the pixels.

    Example:
        >>> import numpy as np
        >>> img = np.ones((64, 64, 3))
        >>> img[27:37, 27:37] = (0.4, 0.2, 0.6)
        >>> int(context_mask(img).sum()) < 64 * 64
        True
    """
    from .reframe import find_cell
    cell = find_cell(rgb) if cell is None else cell
    if cell is None:
        return np.ones(rgb.shape[:2], bool)
    rows, cols = np.mgrid[:rgb.shape[0], :rgb.shape[1]]
    mask = np.hypot(rows - cell[0], cols - cell[1]) > margin * cell[2] / 2
    return mask if mask.mean() >= 0.1 else np.ones(rgb.shape[:2], bool)


def background(rgb: np.ndarray) -> np.ndarray:
    """An image's background colour: each channel's 95th percentile.

    Args:
        rgb (np.ndarray): HxWx3 RGB floats in [0, 1].

    Returns:
        np.ndarray: The RGB colour, floats in (0, 1].

    Example:
        >>> import numpy as np
        >>> background(np.full((4, 4, 3), 0.5)).tolist()
        [0.5, 0.5, 0.5]
    """
    return np.maximum(np.percentile(rgb.reshape(-1, 3), 95, axis=0), 1 / 255)


def optical_density(rgb: np.ndarray, colour: Optional[np.ndarray] = None) -> np.ndarray:
    """Optical densities against the image's own background colour (Beer-Lambert).

    Scanners differ in their white balance (PBC's background is peach, BCCD's grey-blue);
    densities taken against a fixed white light, as Macenko's method usually is, would read that
    tint as stain.

    Args:
        rgb (np.ndarray): HxWx3 RGB floats in [0, 1].
        colour (np.ndarray, optional): The background colour. Defaults to :func:`background`.

    Returns:
        np.ndarray: HxWx3 densities, >= 0.
    """
    colour = background(rgb) if colour is None else np.asarray(colour, float)
    return -np.log(np.clip(rgb / colour, 1 / 255, 1.0))


def macenko_stains(rgb: np.ndarray, reference: Optional[np.ndarray] = None, beta: float = 0.15,
                   alpha: float = 1.0) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """Macenko's estimate of an image's two stain vectors and their scale (Macenko et al., 2009).

    The densities (:func:`optical_density`) of the stained pixels (norm at least ``beta``) are
    projected onto the plane of their two main directions; the ``alpha`` and ``100 - alpha``
    percentiles of the angle there are the two stains. Which one is eosin is decided by
    similarity to ``reference`` (Romanowsky's vectors by default), not by the H&E rule of
    torchstain and staintools (the larger red absorbance first), which eosin and methylene blue,
    both absorbing mostly green, do not follow reliably.

    Args:
        rgb (np.ndarray): HxWx3 RGB floats in [0, 1].
        reference (np.ndarray, optional): Rows eosin, methylene blue (3 columns). Defaults to
            ``ROMANOWSKY_RGB_FROM_STAINS[:2]``.
        beta (float): Least density norm of a stained pixel. Defaults to 0.15.
        alpha (float): Angle percentile of the extreme stains. Defaults to 1.0.

    Returns:
        tuple | None: ``(vectors, max_concentrations)``: rows eosin, methylene blue (unit
        vectors), and their 99th-percentile concentrations; None when the image has fewer than
        50 stained pixels.

    Example:
        >>> import numpy as np
        >>> macenko_stains(np.ones((8, 8, 3))) is None
        True
    """
    reference = ROMANOWSKY_RGB_FROM_STAINS[:2] if reference is None else np.asarray(reference)
    od = optical_density(rgb).reshape(-1, 3)
    stained = od[np.linalg.norm(od, axis=1) >= beta]
    if len(stained) < 50:
        return None
    _, eigvecs = np.linalg.eigh(np.cov(stained.T))
    plane = eigvecs[:, 1:3]
    projected = stained @ plane
    phi = np.arctan2(projected[:, 1], projected[:, 0])
    vectors = np.stack([plane @ (np.cos(a), np.sin(a)) for a in
                        np.percentile(phi, (alpha, 100 - alpha))])
    vectors *= np.where(vectors.sum(1, keepdims=True) < 0, -1, 1)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ reference.T
    if similarity[0, 0] + similarity[1, 1] < similarity[1, 0] + similarity[0, 1]:
        vectors = vectors[::-1]
    concentrations = np.linalg.lstsq(vectors.T, od.T, rcond=None)[0]
    scale = np.percentile(concentrations, 99, axis=1)
    if not (np.all(np.isfinite(vectors)) and np.all(scale > 0)):
        return None
    return vectors, scale


def fit_stain_target(images: Iterable[np.ndarray], channel_order: str = 'bgr',
                     source: str = '') -> StainTarget:
    """Fit a :class:`StainTarget` on images.

    Args:
        images (Iterable[np.ndarray]): The images (any layout :func:`to_rgb_float` takes).
        channel_order (str): Their channel order. Defaults to ``'bgr'`` (mmcv/cv2).
        source (str): What they are, for the record. Defaults to ``''``.

    Returns:
        StainTarget: Their statistics.

    Raises:
        ValueError: If there are no images, or no image with enough stained pixels.

    Example:
        >>> from mmcell.synthetic import render_cell_crop
        >>> import numpy as np
        >>> images = [render_cell_crop('neutrophil', np.random.default_rng(i)) for i in range(4)]
        >>> target = fit_stain_target(images)
        >>> target.images, 0 < target.cell_fraction < 1
        (4, True)
    """
    from .reframe import find_cell
    stats, context, vectors, scales, fractions, backgrounds = [], [], [], [], [], []
    for img in images:
        rgb, _ = to_rgb_float(img, channel_order)
        cell = find_cell(rgb)
        stats.append(lab_statistics(rgb))
        context.append(lab_statistics(rgb, context_mask(rgb, cell) if cell else None))
        backgrounds.append(background(rgb))
        found = macenko_stains(rgb)
        if found is not None:
            vectors.append(found[0])
            scales.append(found[1])
        if cell is not None:
            fractions.append(cell[2] / max(rgb.shape[:2]))
    if not stats:
        raise ValueError('fit_stain_target: no images')
    if not vectors or not fractions:
        raise ValueError('fit_stain_target: no image with enough stained pixels')
    stats, context = np.stack(stats), np.stack(context)
    median = np.median(np.stack(vectors), axis=0)
    eosin, methylene_blue = median / np.linalg.norm(median, axis=1, keepdims=True)

    def rounded(values: Sequence[float]) -> Tuple[float, ...]:
        return tuple(round(float(v), 4) for v in values)

    return StainTarget(
        lab_mean=rounded(stats[:, 0].mean(0)), lab_std=rounded(stats[:, 1].mean(0)),
        lab_mean_spread=rounded(stats[:, 0].std(0)), lab_std_spread=rounded(stats[:, 1].std(0)),
        context_lab_mean=rounded(context[:, 0].mean(0)),
        context_lab_std=rounded(context[:, 1].mean(0)),
        eosin=rounded(eosin), methylene_blue=rounded(methylene_blue),
        max_concentrations=rounded(np.median(np.stack(scales), axis=0)),
        background=rounded(np.median(np.stack(backgrounds), axis=0)),
        cell_fraction=round(float(np.median(fractions)), 4), images=len(stats), source=source)
