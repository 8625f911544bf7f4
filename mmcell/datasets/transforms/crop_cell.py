"""Frame a cell as the smear pipeline frames a detected white cell."""
from mmcv.transforms import BaseTransform

from mmcell.structures import crop_cell
from .registry import register_transform

__all__ = ['CropCell']


@register_transform
class CropCell(BaseTransform):
    """Crop a square around ``results['cell_box']``, as the smear pipeline frames a white cell.

    The square is ``context`` times the box's longer side, centred on the box, reflected where
    it passes the image border (:func:`mmcell.structures.crop_cell`). Registered in mmpretrain's
    and mmdet's ``TRANSFORMS`` (use it after ``LoadImageFromFile``); a sample without
    ``cell_box`` is left as it is.

    Args:
        context (float): Crop side over the box's longer side. Defaults to 1.9.

    Example:
        >>> import numpy as np
        >>> from mmcell.datasets.transforms import CropCell
        >>> results = dict(img=np.zeros((100, 100, 3), np.uint8),
        ...                cell_box=np.array([40., 40., 60., 50.]))
        >>> CropCell(context=2.0)(results)['img'].shape
        (40, 40, 3)
    """

    def __init__(self, context: float = 1.9) -> None:
        if context <= 0:
            raise ValueError(f'context must be positive, got {context}')
        self.context = context

    def transform(self, results: dict) -> dict:
        if results.get('cell_box') is None:
            return results
        img = crop_cell(results['img'], results['cell_box'], self.context)
        results.update(img=img, img_shape=img.shape[:2])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(context={self.context})'
