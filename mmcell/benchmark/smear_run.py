"""The whole smear run, timed as a user runs it: ``tools/infer.py`` on the same fields, once per
detector, with one classifier.

Each run is a process of its own (start-up, model loading, reading the fields and writing the
files included, pictures left out), at the thread count the caller's environment sets. Its
wall-clock time is measured around the process; the seconds spent detecting and classifying are
the ones :class:`mmcell.apis.SmearInferencer` counted (``timing.json`` in its output folder).
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Sequence, Tuple

__all__ = ['SMEAR_COLUMNS', 'time_smear_run']

ROOT = Path(__file__).resolve().parents[2]
SMEAR_COLUMNS = ['pipeline', 'fields', 'run_s', 'detection_s_field', 'cells', 'white_cells',
                 'classification_s_cell', 'threads']


def time_smear_run(name: str, fields: Sequence[str], detector: Tuple[str, str],
                   classifier: Tuple[str, str], out_dir: Path,
                   infer_args: Sequence[str] = ()) -> Dict:
    """Run ``tools/infer.py`` on ``fields`` with one detector and the classifier; time it.

    Args:
        name (str): The pipeline's name in the table.
        fields (Sequence[str]): The field images.
        detector (tuple[str, str]): The detector's config and checkpoint.
        classifier (tuple[str, str]): The white-cell classifier's config and checkpoint.
        out_dir (Path): Where the run writes its files.
        infer_args (Sequence[str]): More ``tools/infer.py`` options (``--score-thr``, ...).
            Defaults to none: the tool's defaults.

    Returns:
        dict: A row of :data:`SMEAR_COLUMNS`: the run's seconds (``run_s``), detection seconds a
        field, the cells found, the white cells classified and the classification seconds a
        white cell.

    Raises:
        subprocess.CalledProcessError: The run failed (its output is shown as it runs).

    Example:
        >>> row = time_smear_run(  # doctest: +SKIP
        ...     'lite0-fpn', ['field_1.jpg', 'field_2.jpg'],
        ...     ('configs/lite_fpn/faster_rcnn_lite0_fpn_bccd.py', 'det.pth'),
        ...     ('configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py', 'cls.pth'),
        ...     Path('work_dirs/smear_run/lite0-fpn'))
        >>> row['detection_s_field'], row['classification_s_cell']  # doctest: +SKIP
        (0.31, 0.0201)
    """
    out_dir = Path(out_dir)
    cmd = [sys.executable, str(ROOT / 'tools' / 'infer.py'), *map(str, fields),
           '--detector', *detector, '--classifier', *classifier, '--no-pictures',
           '--out-dir', str(out_dir), *infer_args]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    timing = json.loads((out_dir / 'timing.json').read_text())
    cells = json.loads((out_dir / 'cells.json').read_text())['cells']
    per_cell = (timing['classification_s'] / timing['cells'] if timing['cells'] else 'n/a')
    return dict(pipeline=name, fields=timing['fields'], run_s=round(seconds, 1),
                detection_s_field=round(timing['detection_s'] / max(timing['fields'], 1), 3),
                cells=len(cells), white_cells=timing['cells'],
                classification_s_cell=(round(per_cell, 4) if timing['cells'] else per_cell),
                threads=os.environ.get('OMP_NUM_THREADS') or os.cpu_count())
