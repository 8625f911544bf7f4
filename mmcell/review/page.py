"""The review page of a smear run: one HTML file that opens from disk.

The page (``review.html`` in the run's folder) holds its script, its styles and the run's record
inline; the field pictures and cell crops are the PNG files beside it (``fields/``, ``crops/``),
so it needs no server and no network. It shows the white-cell differential (table and bar
chart; as :func:`mmcell.uncertainty.white_cell_differential`: percentages over the identified
leukocytes, unidentified cells apart, nucleated red cells per 100 white cells, platelets and cells
that are not white cells counted apart),
the images that could not be read, every white cell's crop grouped by predicted class with the
least certain first, and the fields with their boxes; a click on a crop marks the cell in its
field. A person reassigns a cell (to another class, ``unidentified`` or ``not a white cell``) or
confirms it; the counts follow at once, the work is kept in the browser's storage for the page,
and *Save corrections* downloads the reviewed cells as a corrections file
(:func:`mmcell.review.read_corrections`; ``tools/adapt_classifier.py`` learns from it).
"""
import json
import re
from html import escape
from pathlib import Path
from typing import Dict, Union

__all__ = ['write_review_page']

_ASSETS = tuple(Path(__file__).with_name(name) for name in ('page.html', 'page.css', 'page.js'))


def write_review_page(record: Dict, out_dir: Union[str, Path],
                      title: str = 'mmcell smear review') -> Path:
    """Write ``review.html`` for a run's record into its folder.

    Args:
        record (dict): The run (:meth:`mmcell.review.SmearRun.write`), with a crop per cell.
        out_dir (str | Path): The run's folder, which holds the pictures the record names.
        title (str): The page's title. Defaults to ``'mmcell smear review'``.

    Returns:
        Path: The page.

    Raises:
        ValueError: A cell of the record has no crop (the run did not save crops).

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from mmcell.review import SmearRun
        >>> out = tempfile.mkdtemp()
        >>> run = SmearRun(out, classes=['lymphocyte', 'neutrophil'])
        >>> run.add_field('smear_1.jpg', np.full((120, 160, 3), 230, np.uint8), [])
        >>> page = write_review_page(run.write(), out)
        >>> page.name, 'No white cells' in page.read_text()  # said by the page's script
        ('review.html', True)
    """
    missing = [cell['id'] for cell in record['cells'] if 'crop' not in cell]
    if missing:
        raise ValueError(f'cells {missing[:5]} have no crop: the review page needs a run that '
                         'saved its crops')
    from ..uncertainty.intervals import NOT_WHITE_CLASSES, NUCLEATED_RED_CLASSES
    # The classes counted apart from the white cells (a record from before they were recorded
    # gets the pipeline's).
    record = {'nucleated_red': list(NUCLEATED_RED_CLASSES),
              'not_white': list(NOT_WHITE_CLASSES), **record}
    html, css, js = (path.read_text() for path in _ASSETS)
    # Inside <script>, "</script" ends the element and "<!--" changes how it is read: no "<"
    # at all ("\u003c" is the same character to JSON).
    data = json.dumps(record).replace('<', '\\u003c')
    parts = dict(TITLE=escape(title), CSS=css, DATA=data, JS=js)
    page = re.sub(r'__(TITLE|CSS|DATA|JS)__', lambda m: parts[m.group(1)], html)  # one pass
    path = Path(out_dir) / 'review.html'
    path.write_text(page, encoding='utf-8')
    return path
