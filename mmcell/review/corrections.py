"""Corrections saved from the review page, read back and checked against their run.

A corrections file (JSON, ``format: mmcell-corrections``) names its run's id and class list and
holds one entry per reviewed cell: ``id``, ``crop`` (its path in the run's folder), ``image``,
``box``, ``predicted`` and ``label`` (the class the person gave it: one of the classes,
``unidentified`` or ``not a white cell``). :func:`read_corrections` checks every entry against
the run before anything learns from it, and refuses the file naming the entry that is wrong.
"""
import json
from pathlib import Path
from typing import List, NamedTuple, Sequence, Tuple, Union

from .run import NOT_WHITE, UNIDENTIFIED, load_run

__all__ = ['CorrectedCell', 'CorrectionsError', 'read_corrections', 'write_annotation_list']

FORMAT = 'mmcell-corrections'


class CorrectionsError(ValueError):
    """A corrections file that cannot be used; the message names the file and the entry."""


class CorrectedCell(NamedTuple):
    """One reviewed cell.

    Attributes:
        id (str): The cell's id in its run.
        crop (Path): Its crop file.
        predicted (str): What the classifier said.
        label (str): What the person said.
    """
    id: str
    crop: Path
    predicted: str
    label: str


def read_corrections(path: Union[str, Path],
                     run_dir: Union[str, Path]) -> Tuple[List[CorrectedCell], List[str]]:
    """Read a corrections file and check it against the run it came from.

    Args:
        path (str | Path): The file the review page saved.
        run_dir (str | Path): The run's folder (``tools/infer.py --report --out-dir``).

    Returns:
        tuple[list[CorrectedCell], list[str]]: The reviewed cells, and the run's classes.

    Raises:
        CorrectionsError: The file is not a corrections file, comes from another run, has
            another class list, or an entry names an unknown class, a cell that is not in the
            run, a crop that does not exist, or a cell twice.

    Example:
        >>> import json, tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from mmcell.review import SmearRun
        >>> out = tempfile.mkdtemp()
        >>> run = SmearRun(out, classes=['lymphocyte', 'neutrophil'])
        >>> img = np.full((120, 160, 3), 230, np.uint8)
        >>> run.add_field('s.jpg', img, [dict(box=[60, 30, 110, 80], label='WBC', score=0.8,
        ...     cell_class='neutrophil', cell_score=0.6)], crops=[img[20:90, 50:120]])
        >>> record = run.write()
        >>> entry = dict(id='0000_00', crop='crops/0000_00.png', predicted='neutrophil',
        ...              label='lymphocyte')
        >>> _ = Path(out, 'c.json').write_text(json.dumps(dict(
        ...     format='mmcell-corrections', version=1, run_id=record['id'],
        ...     classes=record['classes'], cells=[entry])))
        >>> cells, classes = read_corrections(Path(out, 'c.json'), out)
        >>> cells[0].label, cells[0].crop.name, classes
        ('lymphocyte', '0000_00.png', ['lymphocyte', 'neutrophil'])
    """
    path, run_dir = Path(path), Path(run_dir)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CorrectionsError(f'{path} does not exist') from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorrectionsError(f'{path} is not JSON: {err}') from None
    if not isinstance(data, dict) or data.get('format') != FORMAT:
        raise CorrectionsError(f'{path} is not a corrections file saved from a review page '
                               f'(format {FORMAT!r})')
    run = load_run(run_dir)
    if data.get('run_id') != run['id']:
        raise CorrectionsError(f"{path} was saved from run {data.get('run_id')!r}, not from "
                               f"the run in {run_dir} ({run['id']!r})")
    classes = run['classes']
    if data.get('classes') != classes:
        raise CorrectionsError(f"{path} has the classes {data.get('classes')}, the run in "
                               f'{run_dir} has {classes}')
    known = {cell['id']: cell for cell in run['cells']}
    allowed = (*classes, UNIDENTIFIED, NOT_WHITE)
    cells, seen = [], set()
    entries = data.get('cells')
    if not isinstance(entries, list):
        raise CorrectionsError(f'{path} has no list of cells')
    for i, entry in enumerate(entries):
        where = f'{path}: entry {i}'
        if not isinstance(entry, dict) or not {'id', 'label'} <= set(entry):
            raise CorrectionsError(f'{where} is not a cell with an id and a label: {entry!r}')
        cell_id, label = entry['id'], entry['label']
        if not (isinstance(cell_id, str) and isinstance(label, str)):
            raise CorrectionsError(f'{where}: its id and label must be strings, got '
                                   f'{cell_id!r} and {label!r}')
        where += f' (cell {cell_id!r})'
        if cell_id not in known:
            raise CorrectionsError(f'{where} names a cell that is not in the run in {run_dir}')
        if cell_id in seen:
            raise CorrectionsError(f'{where} names the cell a second time')
        if label not in allowed:
            raise CorrectionsError(f'{where} has the label {label!r}, which is none of '
                                   f'{list(allowed)}')
        crop = known[cell_id].get('crop')
        if crop is None or entry.get('crop', crop) != crop:
            raise CorrectionsError(f"{where} names the crop {entry.get('crop')!r}; the run "
                                   f'has {crop!r} for this cell')
        if not (run_dir / crop).is_file():
            raise CorrectionsError(f'{where}: its crop {run_dir / crop} does not exist')
        seen.add(cell_id)
        cells.append(CorrectedCell(cell_id, run_dir / crop, known[cell_id]['predicted'], label))
    return cells, classes


def write_annotation_list(cells: Sequence[CorrectedCell], classes: Sequence[str],
                          path: Union[str, Path]) -> int:
    """Write the cells that have a class as an mmpretrain annotation list.

    Each line is ``<crop path> <class index>`` (mmpretrain's ``CustomDataset`` with
    ``ann_file``; the paths are absolute, so give the dataset no ``data_prefix``). Cells
    labelled ``unidentified`` or ``not a white cell`` are left out: they are no class to learn.

    Args:
        cells (Sequence[CorrectedCell]): From :func:`read_corrections`.
        classes (Sequence[str]): The classifier's classes (the indices).
        path (str | Path): The list to write.

    Returns:
        int: The number of lines written.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> cells = [CorrectedCell('a', Path('/run/crops/a.png'), 'neutrophil', 'lymphocyte'),
        ...          CorrectedCell('b', Path('/run/crops/b.png'), 'neutrophil', 'not a white cell')]
        >>> out = Path(tempfile.mkdtemp(), 'ann.txt')
        >>> write_annotation_list(cells, ['lymphocyte', 'neutrophil'], out)
        1
        >>> out.read_text()
        '/run/crops/a.png 0\\n'
    """
    lines = [f'{Path(cell.crop).resolve()} {classes.index(cell.label)}\n' for cell in cells
             if cell.label in classes]
    Path(path).write_text(''.join(lines))
    return len(lines)
