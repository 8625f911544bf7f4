"""The package imports on its own, leaves ``import mmcell`` alone, and its examples run."""
import doctest
import importlib
import subprocess
import sys

import pytest

MODULES = ['calibration', 'conformal', 'scores', 'intervals', 'outputs', 'state']


def test_import_mmcell_does_not_import_it_and_it_imports_pytorch_ood_only_when_scoring():
    code = ("import sys, mmcell; assert 'mmcell.uncertainty' not in sys.modules; "
            "import mmcell.uncertainty; assert 'pytorch_ood' not in sys.modules; "
            "print(len(mmcell.uncertainty.__all__))")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_public_names_are_there():
    import mmcell.uncertainty as uncertainty
    assert all(hasattr(uncertainty, name) for name in uncertainty.__all__)


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f'mmcell.uncertainty.{name}')
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    assert tests
    for test in tests:
        out = []
        result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test, out=out.append)
        assert result.failed == 0, ''.join(out)
