"""Pictures of a smear run: each field with its detected cells boxed and the white cells named.

The colours are fixed per class name (:func:`class_colour`), so a class has the same colour on
every field picture, in the review page's gallery and in its bar chart.
"""
import colorsys
import zlib
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['class_colour', 'draw_field']

# Colours people expect for the detector's coarse classes (BGR); other names get a hashed hue.
_FIXED = {
    'rbc': (60, 60, 220),
    'platelets': (0, 190, 230),
    'platelet': (0, 190, 230),
    'wbc': (160, 40, 140),
    'unidentified': (40, 40, 40),
    'basophil': (140, 30, 90),
    'eosinophil': (30, 110, 240),
    'erythroblast': (40, 40, 160),
    'ig': (200, 120, 0),
    'lymphocyte': (200, 60, 40),
    'monocyte': (130, 160, 20),
    'neutrophil': (190, 40, 190),
}


def class_colour(name: str) -> Tuple[int, int, int]:
    """The BGR colour of a class on every picture of a run.

    Args:
        name (str): Class name (case does not matter).

    Returns:
        tuple[int, int, int]: Blue, green, red in [0, 255].

    Example:
        >>> class_colour('RBC') == class_colour('rbc')
        True
        >>> class_colour('schistocyte') == class_colour('schistocyte')  # stable for any name
        True
    """
    key = name.lower()
    if key in _FIXED:
        return _FIXED[key]
    hue = (zlib.crc32(key.encode()) % 360) / 360
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.85)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_field(img: np.ndarray,
               cells: Sequence[Dict],
               white_class: str = 'WBC',
               thickness: int = 0) -> np.ndarray:
    """Draw a field's cells: every box in its class's colour, white cells with class and
    probability.

    Args:
        img (np.ndarray): The field, BGR uint8 (H, W, 3).
        cells (Sequence[dict]): Detections as :class:`mmcell.apis.SmearInferencer` gives them:
            ``box`` (x1, y1, x2, y2), ``label``, and for white cells ``cell_class`` and
            ``cell_score``.
        white_class (str): The detector class of white cells. Defaults to ``'WBC'``.
        thickness (int): Box line width in pixels; 0 scales it with the image (2 px at
            640x480). Defaults to 0.

    Returns:
        np.ndarray: A copy of ``img`` with the boxes and labels drawn.

    Example:
        >>> import numpy as np
        >>> field = np.full((120, 160, 3), 230, np.uint8)
        >>> cells = [dict(box=[10, 10, 40, 40], label='RBC', score=0.9),
        ...          dict(box=[60, 30, 110, 80], label='WBC', score=0.8,
        ...               cell_class='neutrophil', cell_score=0.93)]
        >>> out = draw_field(field, cells)
        >>> out.shape, bool((out != field).any()), bool((field == 230).all())
        ((120, 160, 3), True, True)
    """
    out = img.copy()
    scale = max(out.shape[:2]) / 640
    width = thickness or max(1, int(round(2 * scale)))
    font_scale = max(0.35, 0.5 * scale)
    # White cells last, so their labels are on top of the red cells' boxes.
    for cell in sorted(cells, key=lambda c: c['label'] == white_class):
        x1, y1, x2, y2 = (int(round(v)) for v in cell['box'])
        name = cell.get('cell_class', cell['label'])
        colour = class_colour(name)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, width)
        if 'cell_class' not in cell:
            continue
        text = f"{name} {cell['cell_score']:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        ty = y1 - 2 if y1 - th - base - 2 >= 0 else min(out.shape[0] - 1, y2 + th + 2)
        cv2.rectangle(out, (x1, ty - th - base), (x1 + tw + 2, ty + 1), colour, -1)
        b, g, r = colour  # dark text on light colours (platelet yellow), white on the rest
        ink = (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)
        cv2.putText(out, text, (x1 + 1, ty - base + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    ink, 1, cv2.LINE_AA)
    return out
