"""The record of a smear run that the review page shows and corrections refer to.

A run has an id (a random hex string), its fields (each with its picture: the image with its
cells drawn, :func:`mmcell.visualization.draw_field`), its white cells (each with its crop as
the classifier saw it, saved as a PNG) and the images that could not be read. ``run.json`` in
the run's folder holds it; a corrections file saved from the page names the run's id, and
:func:`mmcell.review.read_corrections` refuses one from another run.
"""
import json
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import cv2
import numpy as np

from ..visualization.fields import class_colour, draw_field

__all__ = ['SmearRun', 'NOT_WHITE', 'UNIDENTIFIED', 'load_run']

UNIDENTIFIED = 'unidentified'
NOT_WHITE = 'not a white cell'
RUN_FORMAT = 'mmcell-run'


def _hex(name: str) -> str:
    b, g, r = class_colour(name)
    return f'#{r:02x}{g:02x}{b:02x}'


class SmearRun:
    """Collects a smear run's fields, white-cell crops and unreadable images, and writes them.

    Args:
        out_dir (str | Path): The run's folder; pictures go to ``fields/``, crops to ``crops/``.
        classes (Sequence[str]): The white-cell classifier's classes.
        white_class (str): The detector class that is classified. Defaults to ``'WBC'``.
        crops (bool): Save each white cell's crop (the review page needs them).
            Defaults to True.
        classifier (str): What classified the cells (shown on the page). Defaults to ``''``.
        detector (str): What detected them. Defaults to ``''``.
        intervals (bool): The counts carry confidence intervals. Defaults to True.
        confidence (float): Their level. Defaults to 0.95.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> out = tempfile.mkdtemp()
        >>> run = SmearRun(out, classes=['lymphocyte', 'neutrophil'])
        >>> field = np.full((120, 160, 3), 230, np.uint8)
        >>> run.add_field('smear_1.jpg', field, [
        ...     dict(box=[60, 30, 110, 80], label='WBC', score=0.8, cell_class='neutrophil',
        ...          cell_score=0.93, unidentified=False),
        ...     dict(box=[10, 10, 40, 40], label='RBC', score=0.9)], crops=[field[20:90, 50:120]])
        >>> run.add_skipped('broken.jpg', 'not an image, or truncated')
        >>> record = run.write()
        >>> [c['crop'] for c in record['cells']], record['fields'][0]['picture']
        (['crops/0000_00.png'], 'fields/0000_smear_1.png')
    """

    def __init__(self,
                 out_dir: Union[str, Path],
                 classes: Sequence[str],
                 white_class: str = 'WBC',
                 crops: bool = True,
                 classifier: str = '',
                 detector: str = '',
                 intervals: bool = True,
                 confidence: float = 0.95) -> None:
        from ..uncertainty.intervals import NOT_WHITE_CLASSES, NUCLEATED_RED_CLASSES
        self.out_dir = Path(out_dir)
        self.save_crops = crops
        self.white_class = white_class
        self.record = dict(
            format=RUN_FORMAT, version=1, id=uuid.uuid4().hex,
            created=datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
            classes=list(classes), white_class=white_class, unidentified_label=UNIDENTIFIED,
            not_white_label=NOT_WHITE, nucleated_red=list(NUCLEATED_RED_CLASSES),
            not_white=list(NOT_WHITE_CLASSES), classifier=classifier, detector=detector,
            intervals=intervals, confidence=confidence,
            colours={name: _hex(name) for name in (*classes, UNIDENTIFIED, NOT_WHITE)},
            fields=[], cells=[], skipped=[])
        (self.out_dir / 'fields').mkdir(parents=True, exist_ok=True)
        if crops:
            (self.out_dir / 'crops').mkdir(exist_ok=True)

    @property
    def id(self) -> str:
        return self.record['id']

    def add_field(self, image: str, img: np.ndarray, cells: List[Dict],
                  crops: Optional[Sequence[np.ndarray]] = None) -> None:
        """Add a field: write its picture and (with ``crops``) its white cells' crops.

        Args:
            image (str): The image's path, as given.
            img (np.ndarray): The image, BGR.
            cells (list[dict]): Its detections (:class:`mmcell.apis.SmearInferencer`'s ``cells``).
            crops (Sequence[np.ndarray], optional): One crop per white cell (the cells with a
                ``cell_class``), in their order. Needed when the run saves crops.
        """
        index = len(self.record['fields'])
        # Only name characters a browser reads as a plain path ('#', '?', '%' would not be).
        stem = re.sub(r'[^\w.-]', '_', Path(image).stem)
        picture = f'fields/{index:04d}_{stem}.png'
        cv2.imwrite(str(self.out_dir / picture), draw_field(img, cells, self.white_class))
        self.record['fields'].append(dict(image=str(image), picture=picture,
                                          width=int(img.shape[1]), height=int(img.shape[0]),
                                          cells=len(cells)))
        whites = [cell for cell in cells if 'cell_class' in cell]
        crops = list(crops or [])
        if self.save_crops and len(crops) != len(whites):
            raise ValueError(f'{image}: {len(whites)} white cells need as many crops, got '
                             f'{len(crops)}')
        for k, cell in enumerate(whites):
            entry = dict(id=f'{index:04d}_{k:02d}', field=index,
                         box=[round(float(v), 1) for v in cell['box']],
                         predicted=cell['cell_class'], score=round(float(cell['cell_score']), 4),
                         unidentified=bool(cell.get('unidentified', False)))
            if self.save_crops:
                entry['crop'] = f"crops/{entry['id']}.png"
                cv2.imwrite(str(self.out_dir / entry['crop']), crops[k])
            self.record['cells'].append(entry)

    def add_skipped(self, image: str, reason: str) -> None:
        """Note an image that could not be read, and why."""
        self.record['skipped'].append(dict(image=str(image), reason=reason))

    def write(self) -> Dict:
        """Write ``run.json`` into the run's folder and return the record."""
        (self.out_dir / 'run.json').write_text(json.dumps(self.record, indent=1))
        return self.record


def load_run(run_dir: Union[str, Path]) -> Dict:
    """Read a run's ``run.json``.

    Args:
        run_dir (str | Path): The folder ``tools/infer.py --report`` wrote.

    Returns:
        dict: The run's record (see :class:`SmearRun`).

    Raises:
        FileNotFoundError: The folder has no ``run.json`` (named).
        ValueError: The file is not a run record (named).
    """
    path = Path(run_dir) / 'run.json'
    if not path.is_file():
        raise FileNotFoundError(f'{path} does not exist: give the folder that '
                                '`tools/infer.py --report` wrote')
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f'{path} is not JSON: {err}') from None
    if not isinstance(record, dict) or record.get('format') != RUN_FORMAT:
        raise ValueError(f'{path} is not an mmcell run record (format {RUN_FORMAT!r})')
    return record
