"""Stain augmentation and normalisation for Romanowsky-stained blood smears.

* :class:`RandomStainJitter`: random dye concentrations and stain-vector perturbation in
  optical-density space (eosin and methylene blue, not H&E's haematoxylin);
* :class:`RandomLabStats`: RandStainNA's colour-statistics augmentation: each image's LAB means and
  standard deviations are moved to values drawn around the training split's;
* :class:`StainNormalize`: test-time normalisation onto the training split's colours: Reinhard
  (LAB statistics) or Macenko (stain vectors against the image's own background);
* :class:`RandomJPEG`: JPEG re-compression artefacts (OpenCV's encoder).

All of them touch only ``results['img']`` (BGR as mmcv loads it, or RGB; grayscale, RGBA, 8- or
16-bit come back in their own layout and type) and are registered in mmpretrain's and mmdet's
``TRANSFORMS``. Randomness is numpy's global generator, which mmengine seeds per worker.
"""
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from .colour import (ROMANOWSKY_RGB_FROM_STAINS, from_rgb_float, from_stains, reinhard,
                     to_rgb_float, to_stains)
from .registry import register_transform
from .stain_target import (StainTarget, context_mask, load_stain_target, macenko_stains,
                           optical_density)

__all__ = ['RandomStainJitter', 'RandomLabStats', 'StainNormalize', 'RandomJPEG']


def _target(target: Union[str, StainTarget], what: str) -> StainTarget:
    if isinstance(target, StainTarget):
        return target
    if not isinstance(target, str):
        raise TypeError(f'{what}: target must be a stain target file or a StainTarget, got '
                        f'{type(target).__name__}')
    return load_stain_target(target)


def _name(transform: BaseTransform, results: dict) -> str:
    return f'{type(transform).__name__}: {results.get("img_path", "the image")}'


@register_transform
class RandomStainJitter(BaseTransform):
    """Random Romanowsky dye concentrations and stain vectors, in optical-density space.

    The image is split into eosin, methylene-blue and residual densities
    (``skimage.color.separate_stains`` with the Romanowsky basis); each dye's density is scaled by
    a factor from ``1 +- concentration`` and shifted by up to ``+- shift``, each dye's vector is
    moved by Gaussian noise of ``vector_std`` (then renormalised), and the image is recombined.
    At zero strength it is the identity (within rounding).

    Args:
        concentration (float): Largest relative change of a dye's density. Defaults to 0.2.
        shift (float): Largest added optical density. Defaults to 0.05.
        vector_std (float): Standard deviation of the noise on each unit stain vector.
            Defaults to 0.05.
        prob (float): Probability of applying it. Defaults to 1.0.
        target (str, optional): A stain target whose vectors are the basis. Defaults to None
            (``ROMANOWSKY_RGB_FROM_STAINS``).
        channel_order (str): ``'bgr'`` (mmcv) or ``'rgb'``. Defaults to ``'bgr'``.

    Example:
        >>> import numpy as np
        >>> from mmpretrain.registry import TRANSFORMS
        >>> jitter = TRANSFORMS.build(dict(type='RandomStainJitter', concentration=0.3))
        >>> img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
        >>> out = jitter(dict(img=img))['img']
        >>> out.shape, out.dtype
        ((8, 8, 3), dtype('uint8'))
    """

    def __init__(self, concentration: float = 0.2, shift: float = 0.05,
                 vector_std: float = 0.05, prob: float = 1.0, target: Optional[str] = None,
                 channel_order: str = 'bgr') -> None:
        for name, value in (('concentration', concentration), ('shift', shift),
                            ('vector_std', vector_std)):
            if value < 0:
                raise ValueError(f'RandomStainJitter: {name} must be >= 0, got {value}')
        if not 0 <= prob <= 1:
            raise ValueError(f'RandomStainJitter: prob must be in [0, 1], got {prob}')
        self.concentration, self.shift, self.vector_std = concentration, shift, vector_std
        self.prob, self.channel_order = prob, channel_order
        self.basis = ROMANOWSKY_RGB_FROM_STAINS if target is None else \
            _target(target, 'RandomStainJitter').rgb_from_stains()

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        scale = 1 + np.random.uniform(-self.concentration, self.concentration, 2)
        shift = np.random.uniform(-self.shift, self.shift, 2)
        noise = np.random.normal(0, self.vector_std, (2, 3))
        rgb, layout = to_rgb_float(results['img'], self.channel_order, _name(self, results))
        stains = to_stains(rgb, self.basis)
        stains[..., :2] = stains[..., :2] * scale + shift
        basis = self.basis.copy()
        vectors = np.abs(basis[:2] + noise)
        basis[:2] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        results['img'] = from_rgb_float(from_stains(stains, basis), layout)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(concentration={self.concentration}, shift={self.shift}, '
                f'vector_std={self.vector_std}, prob={self.prob})')


@register_transform
class RandomLabStats(BaseTransform):
    """RandStainNA's augmentation: move an image's LAB statistics to ones drawn around the
    training split's (Shen et al., 2022).

    A target mean and standard deviation per LAB channel are drawn from normal distributions
    fitted on the training images (``StainTarget.lab_mean`` +- ``lab_mean_spread``,
    ``lab_std`` +- ``lab_std_spread``, the spreads times ``spread``), and the image is moved
    ``strength`` of the way from its own statistics to them by Reinhard's transfer. Zero
    strength is the identity; a wider ``spread`` reaches stains further from the training lab's.

    Args:
        target (str | StainTarget): The training split's stain target (JSON file).
        spread (float): Factor on the fitted spreads. Defaults to 1.0 (RandStainNA's).
        strength (float): Share of the way to the drawn statistics. Defaults to 1.0.
        prob (float): Probability of applying it. Defaults to 1.0.
        channel_order (str): ``'bgr'`` (mmcv) or ``'rgb'``. Defaults to ``'bgr'``.

    Example:
        >>> import numpy as np
        >>> from mmpretrain.registry import TRANSFORMS
        >>> lab = TRANSFORMS.build(dict(
        ...     type='RandomLabStats', target='configs/_base_/datasets/pbc_stain_target.json'))
        >>> img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
        >>> lab(dict(img=img))['img'].shape
        (8, 8, 3)
    """

    def __init__(self, target: Union[str, StainTarget], spread: float = 1.0,
                 strength: float = 1.0, prob: float = 1.0, channel_order: str = 'bgr') -> None:
        if spread < 0 or not 0 <= strength <= 1 or not 0 <= prob <= 1:
            raise ValueError(f'RandomLabStats: need spread >= 0 and strength, prob in [0, 1]; '
                             f'got {spread}, {strength}, {prob}')
        self.target = _target(target, 'RandomLabStats')
        self.spread, self.strength, self.prob = spread, strength, prob
        self.channel_order = channel_order

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        t = self.target
        mean = np.random.normal(t.lab_mean, self.spread * np.asarray(t.lab_mean_spread))
        std = np.abs(np.random.normal(t.lab_std, self.spread * np.asarray(t.lab_std_spread)))
        rgb, layout = to_rgb_float(results['img'], self.channel_order, _name(self, results))
        out = reinhard(rgb, mean, np.maximum(std, 1e-3), strength=self.strength)
        results['img'] = from_rgb_float(out, layout)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(spread={self.spread}, strength={self.strength}, '
                f'prob={self.prob})')


@register_transform
class StainNormalize(BaseTransform):
    """Map an image's colours onto a training set's: Reinhard or Macenko normalisation.

    ``'reinhard'`` moves the image's LAB means and standard deviations to the target's. With
    ``region='context'`` (the default) both are taken over the pixels outside the white cell
    (:func:`~mmcell.datasets.transforms.context_mask`: background and red cells), so that the
    white cell's own colours (an eosinophil's granules, a basophil's dark cytoplasm), which
    tell its class, do not move the transfer; ``region='all'`` is Reinhard's original, over
    every pixel (``lab_mean``, ``lab_std``). ``'macenko'`` estimates the image's two stain vectors and
    concentrations (:func:`macenko_stains`, densities against the image's own background),
    rescales the concentrations to the target's ``max_concentrations`` and recombines them with
    the target's vectors under the target's background colour; an image with too few
    stained pixels for the estimate is left as it is (``results['stain_normalized']`` False).

    Args:
        target (str | StainTarget): The training split's stain target (JSON file, from
            ``tools/analysis_tools/fit_stain_target.py``); a missing or malformed file fails at
            build time naming it.
        method (str): ``'reinhard'`` or ``'macenko'``. Defaults to ``'reinhard'``.
        region (str): Where Reinhard's statistics are taken: ``'context'`` or ``'all'``.
            Defaults to ``'context'``.
        channel_order (str): ``'bgr'`` (mmcv) or ``'rgb'``. Defaults to ``'bgr'``.

    Example:
        >>> import numpy as np
        >>> from mmpretrain.registry import TRANSFORMS
        >>> norm = TRANSFORMS.build(dict(
        ...     type='StainNormalize', target='configs/_base_/datasets/pbc_stain_target.json'))
        >>> img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
        >>> norm(dict(img=img))['stain_normalized']
        True
    """

    def __init__(self, target: Union[str, StainTarget], method: str = 'reinhard',
                 region: str = 'context', channel_order: str = 'bgr') -> None:
        if method not in ('reinhard', 'macenko'):
            raise ValueError(f"StainNormalize: method must be 'reinhard' or 'macenko', got "
                             f'{method!r}')
        if region not in ('context', 'all'):
            raise ValueError(f"StainNormalize: region must be 'context' or 'all', got {region!r}")
        self.target = _target(target, 'StainNormalize')
        self.method, self.region, self.channel_order = method, region, channel_order

    def _macenko(self, rgb: np.ndarray) -> Optional[np.ndarray]:
        t = self.target
        target_vectors = np.array([t.eosin, t.methylene_blue])
        found = macenko_stains(rgb, reference=target_vectors)
        if found is None:
            return None
        vectors, scale = found
        od = optical_density(rgb).reshape(-1, 3)
        concentrations = np.linalg.lstsq(vectors.T, od.T, rcond=None)[0]
        concentrations *= (np.asarray(t.max_concentrations) / scale)[:, None]
        out = np.asarray(t.background) * np.exp(-(target_vectors.T @ concentrations).T)
        return out.reshape(rgb.shape)

    def transform(self, results: dict) -> dict:
        rgb, layout = to_rgb_float(results['img'], self.channel_order, _name(self, results))
        t = self.target
        if self.method == 'reinhard' and self.region == 'all':
            out = reinhard(rgb, t.lab_mean, t.lab_std)
        elif self.method == 'reinhard':
            out = reinhard(rgb, t.context_lab_mean, t.context_lab_std, mask=context_mask(rgb))
        else:
            out = self._macenko(rgb)
        results['stain_normalized'] = out is not None
        if out is not None:
            results['img'] = from_rgb_float(out, layout)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(method={self.method!r}, region={self.region!r})'


@register_transform
class RandomJPEG(BaseTransform):
    """Re-compress the image as JPEG at a random quality (OpenCV's encoder): scanner artefacts.

    Args:
        quality (tuple[int, int]): Range of the JPEG quality (1-100). Defaults to (40, 95).
        prob (float): Probability of applying it. Defaults to 0.5.
        channel_order (str): ``'bgr'`` (mmcv) or ``'rgb'``. Defaults to ``'bgr'``.

    Example:
        >>> import numpy as np
        >>> from mmpretrain.registry import TRANSFORMS
        >>> jpeg = TRANSFORMS.build(dict(type='RandomJPEG', prob=1.0))
        >>> img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
        >>> jpeg(dict(img=img))['img'].shape
        (16, 16, 3)
    """

    def __init__(self, quality: Sequence[int] = (40, 95), prob: float = 0.5,
                 channel_order: str = 'bgr') -> None:
        low, high = quality
        if not 1 <= low <= high <= 100 or not 0 <= prob <= 1:
            raise ValueError(f'RandomJPEG: need 1 <= quality[0] <= quality[1] <= 100 and prob '
                             f'in [0, 1]; got {quality}, {prob}')
        self.quality: Tuple[int, int] = (int(low), int(high))
        self.prob, self.channel_order = prob, channel_order

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        quality = int(np.random.randint(self.quality[0], self.quality[1] + 1))
        img = results['img']
        rgb, layout = to_rgb_float(img, self.channel_order, _name(self, results))
        eight_bit = np.rint(rgb[..., ::-1] * 255).astype(np.uint8)  # cv2 encodes BGR
        ok, data = cv2.imencode('.jpg', eight_bit, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f'{_name(self, results)}: JPEG encoding failed')
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float64) / 255
        results['img'] = from_rgb_float(decoded, layout)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(quality={self.quality}, prob={self.prob})'
