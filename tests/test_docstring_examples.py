"""The ``Example:`` sections of mmcell's docstrings run, and every registered component has one.

The registered components are collected from the registries themselves (mmpretrain's, mmdet's
and mmengine's: every class registered there whose module is in mmcell), so a new component
without an example fails here. The doctests run are those of the modules that define them, plus
the helper modules listed in ``HELPER_MODULES``; each docstring's examples run as one test, in
a fresh copy of its module's globals, as ``python -m doctest`` would run them.
"""
import copy
import doctest
import importlib
import inspect
import io

import mmdet.registry
import mmengine.registry
import mmpretrain.registry
import pytest
from mmengine.logging import MMLogger
from mmengine.registry import Registry

import mmcell  # noqa: F401 (registers)

# Modules with public helpers whose docstrings have examples too (no registered class in them).
HELPER_MODULES = ('mmcell.datasets.splits', 'mmcell.datasets.cell_folders',
                  'mmcell.compat.atomic_checkpoints', 'mmcell.compat.cpu_distributed',
                  'mmcell.compat.quiet', 'mmcell.compat.checkpoint_loading',
                  'mmcell.utils.progress',
                  'mmcell.datasets.transforms.colour', 'mmcell.datasets.transforms.stain_target',
                  'mmcell.visualization.fields', 'mmcell.review.run', 'mmcell.review.page',
                  'mmcell.review.corrections', 'mmcell.review.adaptation',
                  'mmcell.evaluation.selection_report', 'mmcell.engine.runs',
                  'mmcell.converters.chula_rbc12', 'mmcell.structures.cell_crop',
                  'mmcell.uncertainty.intervals', 'mmcell.visualization.trust_plots',
                  'mmcell.engine.cpu_inference')
OPTIONFLAGS = doctest.ELLIPSIS  # as pytest's doctest runner


def registered_classes():
    """Every class of mmcell in a registry of mmpretrain, mmdet or mmengine, by dotted name."""
    found = {}
    for package in (mmpretrain.registry, mmdet.registry, mmengine.registry):
        for registry in vars(package).values():
            if not isinstance(registry, Registry):
                continue
            for cls in registry.module_dict.values():
                if inspect.isclass(cls) and cls.__module__.startswith('mmcell.'):
                    found[f'{cls.__module__}.{cls.__qualname__}'] = cls
    return dict(sorted(found.items()))


REGISTERED = registered_classes()
MODULES = sorted({cls.__module__ for cls in REGISTERED.values()} | set(HELPER_MODULES))


def module_doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = []
    for name in MODULES:
        module = importlib.import_module(name)
        tests += [t for t in finder.find(module) if t.examples]
    return sorted(tests, key=lambda t: t.name)


DOCTESTS = module_doctests()


def runnable(example):
    return not example.options.get(doctest.SKIP, False)


def example_section(docstring):
    """The text of the ``Example:`` (or ``Examples:``) section of a Google-style docstring."""
    lines = inspect.cleandoc(docstring or '').splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() in ('Example:', 'Examples:')]
    if not starts:
        return None
    indent = len(lines[starts[0]]) - len(lines[starts[0]].lstrip())
    body = []
    for line in lines[starts[0] + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break  # the next section
        body.append(line)
    return '\n'.join(body)


def test_the_registered_components_are_found():
    # A check on the collection itself: the components of each kind are there.
    names = {name.rsplit('.', 1)[1] for name in REGISTERED}
    assert {'ConvTokenViT', 'CSARUResNet', 'SparseAttentionHead', 'ContrastiveLinearClsHead',
            'ThresholdedContrastiveLoss', 'AttentionFPN', 'ChannelAttentionUnit',
            'ChannelSpatialAttentionUnit', 'PBCDataset', 'MunichAMLDataset', 'CellVOCDataset',
            'RBC14Dataset', 'ClassificationReport', 'DetectionReport'} <= names
    assert 'mmcell.models.backbones.conv_token_vit' in MODULES


@pytest.mark.parametrize('name', list(REGISTERED))
def test_every_registered_component_has_a_runnable_example(name):
    cls = REGISTERED[name]
    section = example_section(cls.__doc__)
    assert section is not None, f'{name}: its class docstring has no "Example:" section'
    examples = doctest.DocTestParser().get_examples(section, name)
    assert any(map(runnable, examples)), (
        f'{name}: its "Example:" section has no ">>> " line that runs (without +SKIP)')


@pytest.fixture
def logger_outside_doctest():
    """Have mmengine's current logger exist before an example runs.

    Its stream handler keeps the ``sys.stdout`` of the moment it is created: created inside an
    example, it would write the log lines of later tests into that example's captured output.
    Log lines are not part of the examples' expected output.
    """
    MMLogger.get_current_instance()


@pytest.mark.parametrize('test', DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_examples_run(test, logger_outside_doctest):
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    # DocTestFinder gave each test a copy of its module's globals; run on a copy of that, which
    # the runner clears afterwards, so that a rerun starts clean too.
    test = copy.copy(test)
    test.globs = dict(test.globs)
    result = runner.run(test, out=out.write)
    assert result.failed == 0, f'{test.name} ({test.filename}):\n{out.getvalue()}'
    assert result.attempted > 0
