"""Test-time re-framing: find the white cell in a crop, recentre it and scale it as in training.

Labs frame single cells differently (a tight crop of the cell, or a wide field with the cell in
its middle, at another magnification). :class:`ReframeCell` finds the stained white cell by its
colour (no labels: the azure/methylene-blue dye of nuclei and basophilic cytoplasm absorbs red
light, which red cells and the background do not) and crops a square around it in which the cell
spans the training set's typical share of the side (``StainTarget.cell_fraction``).
"""
from typing import Optional, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS
from scipy import ndimage
from skimage.filters import gaussian, threshold_otsu

from .colour import to_rgb_float
from .stain_target import StainTarget, load_stain_target

__all__ = ['cell_mask', 'find_cell', 'ReframeCell']


def cell_mask(rgb: np.ndarray, min_density: float = 0.35,
              min_area: float = 0.003) -> Optional[np.ndarray]:
    """The pixels of the stained white cell of a crop.

    The red-light optical density is smoothed and thresholded (Otsu's threshold, at least
    ``min_density``); nearby blobs (the lobes of a nucleus) are joined by a closing, holes filled,
    and the blob nearest the centre among those of at least ``min_area`` of the image is the cell.

    Args:
        rgb (np.ndarray): HxWx3 RGB floats in [0, 1].
        min_density (float): Least optical density of a stained pixel. Defaults to 0.35.
        min_area (float): Least area of the cell, as a share of the image. Defaults to 0.003.

    Returns:
        np.ndarray | None: HxW boolean mask of the cell, or None when the crop holds no stained
        cell.

    Example:
        >>> import numpy as np
        >>> img = np.ones((64, 64, 3))
        >>> img[10:21, 40:51] = (0.4, 0.2, 0.6)  # a purple square off-centre
        >>> int(cell_mask(img).sum()), bool(cell_mask(img)[15, 45])
        (121, True)
        >>> cell_mask(np.ones((64, 64, 3))) is None
        True
    """
    side = max(rgb.shape[:2])
    density = gaussian(-np.log(np.clip(rgb[..., 0], 1 / 255, 1.0)), sigma=max(side / 128, 0.5))
    if density.max() < min_density:
        return None
    threshold = max(min_density, float(threshold_otsu(density))) \
        if np.ptp(density) > 1e-6 else min_density
    mask = density >= threshold
    radius = max(1, int(round(side / 40)))
    disk = np.hypot(*np.mgrid[-radius:radius + 1, -radius:radius + 1]) <= radius
    mask = ndimage.binary_fill_holes(ndimage.binary_closing(mask, disk, border_value=0))
    labels, count = ndimage.label(mask)
    if count == 0:
        return None
    areas = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    centres = np.array(ndimage.center_of_mass(mask, labels, np.arange(1, count + 1)))
    middle = (np.array(rgb.shape[:2]) - 1) / 2
    big = areas >= min_area * mask.size
    if not big.any():
        return None
    distance = np.where(big, np.hypot(*(centres - middle).T), np.inf)
    return labels == int(np.argmin(distance)) + 1


def find_cell(rgb: np.ndarray, min_density: float = 0.35,
              min_area: float = 0.003) -> Optional[Tuple[float, float, float]]:
    """Where the stained white cell of a crop is (:func:`cell_mask`), and how large.

    Args:
        rgb (np.ndarray): HxWx3 RGB floats in [0, 1].
        min_density (float): See :func:`cell_mask`. Defaults to 0.35.
        min_area (float): See :func:`cell_mask`. Defaults to 0.003.

    Returns:
        tuple | None: ``(row, column, diameter)`` of the cell in pixels (the diameter of the
        disc of its area), or None when the crop holds no stained cell.

    Example:
        >>> import numpy as np
        >>> img = np.ones((64, 64, 3))
        >>> img[10:21, 40:51] = (0.4, 0.2, 0.6)  # a purple square off-centre
        >>> [round(v) for v in find_cell(img)]
        [15, 45, 12]
        >>> find_cell(np.ones((64, 64, 3))) is None
        True
    """
    mask = cell_mask(rgb, min_density, min_area)
    if mask is None:
        return None
    row, col = ndimage.center_of_mass(mask)
    return float(row), float(col), float(2 * np.sqrt(mask.sum() / np.pi))


@TRANSFORMS.register_module()
class ReframeCell(BaseTransform):
    """Recentre the white cell of a crop and scale it to the training set's typical size.

    Crops a square (reflected at the border) centred on the cell :func:`find_cell` finds, of side
    ``diameter / cell_fraction``, so that the cell spans the share of the image it spans in the
    training set; a resize after it brings the crop to the model's input size. A crop without a
    stained cell is left as it is. Classification pipelines only (it moves the image under any
    boxes). Sets ``results['reframed']`` (True or False), which
    ``PackInputs(meta_keys=(..., 'reframed'))`` passes on for ``cross_domain.py`` to count.

    Args:
        target (str | StainTarget | None): A stain target (JSON file, from
            ``tools/analysis_tools/fit_stain_target.py``) whose ``cell_fraction`` is used.
            Defaults to None (then give ``cell_fraction``).
        cell_fraction (float, optional): The cell's diameter over the image side to frame to.
            Defaults to None (from ``target``).
        channel_order (str): ``'bgr'`` (mmcv) or ``'rgb'``. Defaults to ``'bgr'``.
        min_density (float): See :func:`find_cell`. Defaults to 0.35.

    Example:
        >>> import numpy as np
        >>> img = np.full((64, 64, 3), 255, np.uint8)
        >>> img[4:16, 40:52] = (150, 50, 100)  # BGR purple, off-centre
        >>> out = ReframeCell(cell_fraction=0.5)(dict(img=img))
        >>> out['img'].shape, out['reframed']
        ((27, 27, 3), True)
    """

    def __init__(self, target: Union[str, StainTarget, None] = None,
                 cell_fraction: Optional[float] = None, channel_order: str = 'bgr',
                 min_density: float = 0.35) -> None:
        if cell_fraction is None:
            if target is None:
                raise ValueError('ReframeCell needs a target or a cell_fraction')
            target = load_stain_target(target) if isinstance(target, str) else target
            cell_fraction = target.cell_fraction
        if not 0 < cell_fraction <= 1:
            raise ValueError(f'cell_fraction must be in (0, 1], got {cell_fraction}')
        self.cell_fraction = float(cell_fraction)
        self.channel_order = channel_order
        self.min_density = min_density

    def transform(self, results: dict) -> dict:
        img = results['img']
        rgb, _ = to_rgb_float(img, self.channel_order,
                              what=f'ReframeCell: {results.get("img_path", "the image")}')
        cell = find_cell(rgb, self.min_density)
        results['reframed'] = cell is not None
        if cell is None:
            return results
        row, col, diameter = cell
        side = max(2, int(round(diameter / self.cell_fraction)))
        top, left = int(round(row - side / 2)), int(round(col - side / 2))
        h, w = img.shape[:2]
        pad = max(0, -top, -left, top + side - h, left + side - w)
        if pad:
            width = ((pad, pad), (pad, pad)) + ((0, 0), ) * (img.ndim - 2)
            img = np.pad(img, width, mode='reflect' if pad < min(h, w) else 'edge')
        img = img[top + pad:top + pad + side, left + pad:left + pad + side]
        results.update(img=np.ascontiguousarray(img), img_shape=img.shape[:2])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(cell_fraction={self.cell_fraction})'
