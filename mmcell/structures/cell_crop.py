"""The square crop around a detected cell that single-cell datasets and classifiers expect."""
from typing import Sequence

import cv2
import numpy as np

__all__ = ['crop_cell']


def crop_cell(img: np.ndarray, box: Sequence[float], context: float = 1.9) -> np.ndarray:
    """A square crop around a box, ``context`` times its longer side, padded by reflection.

    Args:
        img (np.ndarray): The image, (H, W) or (H, W, C), any dtype.
        box (Sequence[float]): ``(x1, y1, x2, y2)`` in pixels.
        context (float): Crop side over the box's longer side. Defaults to 1.9, which frames a
            white cell the way single-cell datasets (PBC, Munich AML) do.

    Returns:
        np.ndarray: The crop, of ``img``'s dtype and channels; at least 2 pixels square.

    Example:
        >>> import numpy as np
        >>> img = np.arange(100 * 100, dtype=np.uint16).reshape(100, 100)
        >>> crop_cell(img, (40., 40., 60., 50.), context=2.0).shape
        (40, 40)
        >>> crop_cell(img, (0., 0., 10., 10.)).shape  # past the border: reflected
        (19, 19)
    """
    x1, y1, x2, y2 = box
    side = max(2, int(round(context * max(x2 - x1, y2 - y1))))
    left, top = int(round((x1 + x2 - side) / 2)), int(round((y1 + y2 - side) / 2))
    h, w = img.shape[:2]
    pad = max(0, -left, -top, left + side - w, top + side - h)
    if pad:
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    return img[top + pad:top + pad + side, left + pad:left + pad + side]
