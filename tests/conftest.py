import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Real public data beside the project (see ../shared/data/README.md); tests that need it skip
# when it is absent.
DATA = Path(os.environ.get('MMCELL_DATA', ROOT.parent / 'shared' / 'data'))


def run_tool(*args, cwd=ROOT, check=True):
    """Run a tools/ script in a fresh interpreter, as a user would; return the CompletedProcess."""
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-6000:]}')
    return proc


@pytest.fixture(scope='session')
def cell_crops(tmp_path_factory):
    """A tiny synthetic single-cell dataset: 5 classes x 4 images of 32 px, in the PBC layout."""
    from mmcell.datasets import write_cell_crops
    root = tmp_path_factory.mktemp('cells')
    write_cell_crops(root, num_per_class=4, size=32, seed=0)
    return root
