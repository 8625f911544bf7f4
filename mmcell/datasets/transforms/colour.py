"""Colour maths shared by the stain transforms: image layouts, LAB statistics, optical density.

The CIE LAB conversions are scikit-image's (``rgb2lab``/``lab2rgb``); ours are the handling of
the layouts a pipeline meets (BGR or RGB, grayscale, RGBA, 8- or 16-bit), the Romanowsky stain
basis and the stain densities (Beer-Lambert with concentrations that may be negative, so that
the round trip is exact: scikit-image's ``separate_stains`` clips them at zero).

Romanowsky stains (May-Grünwald-Giemsa, Wright, Giemsa) are two dyes: eosin (acid, red: red cells,
granules) and the azure/methylene-blue family (basic, blue-purple: nuclei, basophilic cytoplasm).
``ROMANOWSKY_RGB_FROM_STAINS`` holds their optical-density vectors (rows: eosin, methylene blue,
and a residual orthogonal to both), as Macenko's method finds them on PBC's training images
(``tools/analysis_tools/fit_stain_target.py configs/cellvit/cellvit_pbc.py``), not H&E's.
"""
from typing import Optional, Tuple

import numpy as np
from skimage.color import lab2rgb, rgb2lab

__all__ = ['ROMANOWSKY_RGB_FROM_STAINS', 'stain_basis', 'to_rgb_float', 'from_rgb_float',
           'lab_statistics', 'reinhard', 'to_stains', 'from_stains']

# Unit optical-density vectors (R, G, B) of eosin and methylene blue fitted on PBC (see above).
# Darkest intensity the densities are taken at (one grey level of 255).
MIN_INTENSITY = 1 / 255
_EOSIN = (0.4882, 0.8638, 0.1247)
_METHYLENE_BLUE = (0.6604, 0.6029, 0.4477)


def stain_basis(eosin, methylene_blue) -> np.ndarray:
    """A 3x3 RGB-from-stains matrix: the two unit stain vectors and their normalised cross product.

    Args:
        eosin (Sequence[float]): Eosin's optical-density vector (R, G, B).
        methylene_blue (Sequence[float]): Methylene blue's optical-density vector (R, G, B).

    Returns:
        np.ndarray: Rows eosin, methylene blue, residual; for ``skimage.color.combine_stains``.

    Example:
        >>> import numpy as np
        >>> m = stain_basis((1, 0, 0), (0, 1, 0))
        >>> m[2].tolist()
        [0.0, 0.0, 1.0]
    """
    rows = [np.asarray(v, float) / np.linalg.norm(v) for v in (eosin, methylene_blue)]
    residual = np.cross(rows[0], rows[1])
    norm = np.linalg.norm(residual)
    if norm < 1e-6:
        raise ValueError('the two stain vectors are parallel: no stain basis')
    return np.stack(rows + [residual / norm])


ROMANOWSKY_RGB_FROM_STAINS = stain_basis(_EOSIN, _METHYLENE_BLUE)


def to_rgb_float(img: np.ndarray, channel_order: str = 'bgr',
                 what: str = 'the image') -> Tuple[np.ndarray, dict]:
    """An image of any layout a pipeline meets as RGB floats in [0, 1], and how to undo it.

    Args:
        img (np.ndarray): HxW (grayscale), HxWx1, HxWx3 or HxWx4 (alpha), uint8, uint16 or float
            in [0, 1].
        channel_order (str): ``'bgr'`` (mmcv's ``LoadImageFromFile``) or ``'rgb'``. Defaults to
            ``'bgr'``.
        what (str): How errors name the image (transform and file). Defaults to ``'the image'``.

    Returns:
        tuple: ``(rgb, layout)``; pass ``layout`` to :func:`from_rgb_float`.

    Example:
        >>> import numpy as np
        >>> rgb, layout = to_rgb_float(np.full((2, 2), 255, np.uint8))
        >>> rgb.shape, float(rgb.max())
        ((2, 2, 3), 1.0)
    """
    if channel_order not in ('bgr', 'rgb'):
        raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3) or (
            img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        shape = getattr(img, 'shape', type(img).__name__)
        raise ValueError(f'{what}: expected an HxW, HxWx1, HxWx3 or HxWx4 image, got {shape}')
    if img.dtype == np.uint8:
        scale = 255.0
    elif img.dtype == np.uint16:
        scale = 65535.0
    elif np.issubdtype(img.dtype, np.floating):
        scale = 1.0
    else:
        raise ValueError(f'{what}: unsupported pixel type {img.dtype} (uint8, uint16 or float)')
    layout = dict(dtype=img.dtype, scale=scale, ndim=img.ndim,
                  channels=1 if img.ndim == 2 else img.shape[2], order=channel_order)
    x = img.astype(np.float64) / scale
    if x.ndim == 2:
        x = x[..., None]
    layout['alpha'] = None
    if x.shape[2] == 4:
        x, layout['alpha'] = x[..., :3], x[..., 3:]
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    elif channel_order == 'bgr':
        x = x[..., ::-1]
    return np.clip(x, 0.0, 1.0), layout


def from_rgb_float(rgb: np.ndarray, layout: dict) -> np.ndarray:
    """Undo :func:`to_rgb_float`: back to the input's layout, channel order and pixel type.

    Args:
        rgb (np.ndarray): HxWx3 RGB floats in [0, 1].
        layout (dict): What :func:`to_rgb_float` returned with the image.

    Returns:
        np.ndarray: The image in the original layout (grayscale comes back as the luminance).

    Example:
        >>> import numpy as np
        >>> img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
        >>> bool((from_rgb_float(*to_rgb_float(img)) == img).all())
        True
    """
    x = np.clip(rgb, 0.0, 1.0)
    if layout['channels'] == 1:
        x = (x @ np.array([0.299, 0.587, 0.114]))[..., None]
    elif layout['order'] == 'bgr':
        x = x[..., ::-1]
    if layout['alpha'] is not None:
        x = np.concatenate([x, layout['alpha']], axis=2)
    if layout['ndim'] == 2:
        x = x[..., 0]
    x = x * layout['scale']
    if np.issubdtype(layout['dtype'], np.integer):
        x = np.rint(x)
    return x.astype(layout['dtype'])


def lab_statistics(rgb: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-channel mean and standard deviation of an image in CIE LAB.

    Args:
        rgb (np.ndarray): HxWx3 RGB floats in [0, 1].
        mask (np.ndarray, optional): HxW booleans: only these pixels count. Defaults to None
            (all).

    Returns:
        np.ndarray: Shape (2, 3): means (L, a, b), then standard deviations.

    Example:
        >>> import numpy as np
        >>> (lab_statistics(np.ones((4, 4, 3)))[0].round(1) + 0).tolist()
        [100.0, 0.0, 0.0]
    """
    lab = rgb2lab(rgb)
    lab = lab.reshape(-1, 3) if mask is None else lab[mask]
    return np.stack([lab.mean(0), lab.std(0)])


def reinhard(rgb: np.ndarray, mean, std, mask: Optional[np.ndarray] = None,
             strength: float = 1.0) -> np.ndarray:
    """Reinhard's colour transfer: move an image's LAB statistics to ``mean`` and ``std``.

    The image is converted to LAB once: its own statistics and the transfer both use that.

    Args:
        rgb (np.ndarray): HxWx3 RGB floats in [0, 1].
        mean (Sequence[float]): The target's LAB means.
        std (Sequence[float]): The target's LAB standard deviations.
        mask (np.ndarray, optional): HxW booleans: the pixels whose statistics are moved (as
            :func:`lab_statistics`); every pixel is transformed. Defaults to None (all).
        strength (float): Share of the way from the image's own statistics to the target's.
            Defaults to 1.0.

    Returns:
        np.ndarray: HxWx3 RGB floats in [0, 1].

    Example:
        >>> import numpy as np
        >>> img = np.random.default_rng(0).uniform(0.2, 0.8, (8, 8, 3))
        >>> stats = lab_statistics(img)
        >>> bool(np.abs(reinhard(img, stats[0], stats[1]) - img).max() < 1e-6)
        True
    """
    lab = rgb2lab(rgb)
    own = lab.reshape(-1, 3) if mask is None else lab[mask]
    own_mean, own_std = own.mean(0), own.std(0)
    mean = own_mean + strength * (np.asarray(mean, float) - own_mean)
    std = own_std + strength * (np.asarray(std, float) - own_std)
    lab = (lab - own_mean) * (std / np.maximum(own_std, 1e-6)) + mean
    lab[..., 0] = np.clip(lab[..., 0], 0.0, 100.0)
    return np.clip(lab2rgb(lab), 0.0, 1.0)


def to_stains(rgb: np.ndarray, rgb_from_stains: np.ndarray = ROMANOWSKY_RGB_FROM_STAINS
              ) -> np.ndarray:
    """Optical-density stain concentrations (eosin, methylene blue, residual) of an RGB image.

    Beer-Lambert: the optical density ``-ln(I)`` of each channel is a sum of the stains'
    densities; the concentrations solve it in the stain basis (they may be negative, unlike
    ``skimage.color.separate_stains``, which clips them at zero and so cannot be inverted).

    Args:
        rgb (np.ndarray): HxWx3 RGB floats in [0, 1].
        rgb_from_stains (np.ndarray): The stain basis. Defaults to the Romanowsky basis.

    Returns:
        np.ndarray: HxWx3 concentrations.

    Example:
        >>> import numpy as np
        >>> to_stains(np.ones((1, 1, 3))).round(6).tolist()
        [[[0.0, 0.0, 0.0]]]
    """
    od = -np.log(np.clip(rgb, MIN_INTENSITY, 1.0))
    return od @ np.linalg.inv(rgb_from_stains)


def from_stains(stains: np.ndarray, rgb_from_stains: np.ndarray = ROMANOWSKY_RGB_FROM_STAINS
                ) -> np.ndarray:
    """The RGB image (floats in [0, 1]) of stain concentrations: the inverse of :func:`to_stains`.

    Args:
        stains (np.ndarray): HxWx3 concentrations.
        rgb_from_stains (np.ndarray): The stain basis. Defaults to the Romanowsky basis.

    Returns:
        np.ndarray: HxWx3 RGB floats in [0, 1].

    Example:
        >>> import numpy as np
        >>> img = np.full((1, 1, 3), 0.5)
        >>> bool(np.allclose(from_stains(to_stains(img)), img))
        True
    """
    return np.clip(np.exp(-(stains @ rgb_from_stains)), 0.0, 1.0)
