"""Property-based tests of the annotation parsers: what is written well reads back exactly, and
one bad line anywhere fails with its file and line number."""
import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmcell.datasets import RBC14_CLASSES, canonical_rbc_name, read_groups
from mmcell.converters.chula_rbc12 import read_chula_points

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
points = st.lists(st.tuples(st.integers(-50, 5000), st.integers(-50, 5000), st.integers(0, 12)),
                  max_size=30)
spaces = st.text(' \t', min_size=1, max_size=3)


def write(text):
    folder = Path(tempfile.mkdtemp())
    path = folder / 'labels.txt'
    path.write_text(text)
    return path


@SETTINGS
@given(points, spaces, st.booleans())
def test_chula_points_round_trip(rows, gap, blank_lines):
    text = ''.join(f'{x}{gap}{y}{gap}{c}\n' + ('\n' if blank_lines else '') for x, y, c in rows)
    parsed = read_chula_points(write(text))
    assert parsed.shape == (len(rows), 3)
    assert [tuple(r) for r in parsed.tolist()] == rows


@SETTINGS
@given(points.filter(len), st.data())
def test_chula_bad_line_is_named(rows, data):
    bad = data.draw(st.one_of(
        st.text(string.ascii_letters + ' .,', min_size=1).filter(lambda t: t.strip()),
        st.tuples(st.integers(0, 99), st.integers(0, 99)).map(lambda t: f'{t[0]} {t[1]}'),
        st.integers(13, 999).map(lambda c: f'10 10 {c}')))
    at = data.draw(st.integers(0, len(rows)))
    lines = [f'{x} {y} {c}' for x, y, c in rows]
    lines.insert(at, bad)
    path = write('\n'.join(lines) + '\n')
    try:
        read_chula_points(path)
    except ValueError as err:
        assert f'{path}, line {at + 1}:' in str(err)
    else:
        raise AssertionError(f'{bad!r} was accepted')


cell = st.text(string.ascii_letters + string.digits + '_-./ ', min_size=1, max_size=20).filter(
    lambda t: t.strip() == t and t not in ('image', 'group'))


@SETTINGS
@given(st.dictionaries(cell, cell, max_size=20), st.booleans())
def test_groups_round_trip(groups, header):
    text = ('image,group\n' if header else '') + ''.join(f'{k},{v}\n' for k, v in groups.items())
    assert read_groups(write(text)) == groups


@SETTINGS
@given(st.dictionaries(cell, cell, max_size=10), st.data())
def test_groups_bad_row_is_named(groups, data):
    lines = [f'{k},{v}' for k, v in groups.items()]
    at = data.draw(st.integers(0, len(lines)))
    lines.insert(at, data.draw(st.sampled_from(['only-an-image', 'a,b,c', ',group', 'image,'])))
    path = write('\n'.join(lines) + '\n')
    try:
        read_groups(path)
    except ValueError as err:
        assert f'{path}, line {at + 1}:' in str(err)
    else:
        raise AssertionError('accepted')


@SETTINGS
@given(st.sampled_from(RBC14_CLASSES), st.data())
def test_rbc_names_survive_case_separators_and_plurals(cls, data):
    sep = data.draw(st.sampled_from([' ', '_', '-', '  ']))
    name = sep.join(cls.split())
    name = ''.join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in name)
    name += data.draw(st.sampled_from(['', 's', 'S']))
    assert canonical_rbc_name(name) == cls


@SETTINGS
@given(st.text(string.ascii_lowercase, min_size=1, max_size=12))
def test_unknown_rbc_names_are_not_guessed(name):
    squashed = {c.replace(' ', '').replace('cell', '') for c in RBC14_CLASSES}
    if name.rstrip('s').replace('cell', '') not in squashed:
        assert canonical_rbc_name(name) is None
