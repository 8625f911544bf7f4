import json

import numpy as np
import pytest

from mmcell.review import (NOT_WHITE, CorrectedCell, CorrectionsError, SmearRun, load_run,
                           read_corrections, write_annotation_list, write_review_page)
from mmcell.visualization.fields import class_colour, draw_field

CLASSES = ['lymphocyte', 'neutrophil']


def white(box, name, score, unidentified=False):
    return dict(box=box, label='WBC', score=0.9, cell_class=name, cell_score=score,
                unidentified=unidentified)


@pytest.fixture
def run_dir(tmp_path):
    """A run of two fields: three white cells and a red cell, one image unreadable."""
    run = SmearRun(tmp_path, CLASSES)
    img = np.full((120, 160, 3), 230, np.uint8)
    cells = [white([10, 10, 50, 50], 'neutrophil', 0.9),
             white([60, 10, 100, 50], 'lymphocyte', 0.4),
             dict(box=[110, 60, 140, 90], label='RBC', score=0.8)]
    run.add_field('a/smear#1.jpg', img, cells, crops=[img[:40, :40], img[:40, 50:90]])
    run.add_field('b/smear_2.jpg', img, [white([20, 20, 60, 60], 'unidentified', 0.3, True)],
                  crops=[img[:30, :30]])
    run.add_skipped('c/broken.jpg', 'not an image, or truncated')
    run.write()
    return tmp_path


def corrections(run_dir, cells, **changes):
    record = load_run(run_dir)
    data = dict(format='mmcell-corrections', version=1, run_id=record['id'],
                classes=record['classes'], cells=cells)
    data.update(changes)
    path = run_dir / 'corrections.json'
    path.write_text(json.dumps(data))
    return path


def test_run_record_names_every_picture_and_crop(run_dir):
    record = load_run(run_dir)
    # '#' would end a browser's path: picture names keep letters, digits, '_', '.', '-' only
    assert [f['picture'] for f in record['fields']] == ['fields/0000_smear_1.png',
                                                       'fields/0001_smear_2.png']
    assert record['fields'][0]['image'] == 'a/smear#1.jpg'
    assert [f['cells'] for f in record['fields']] == [3, 1]
    assert [c['id'] for c in record['cells']] == ['0000_00', '0000_01', '0001_00']
    assert [c['predicted'] for c in record['cells']] == ['neutrophil', 'lymphocyte',
                                                         'unidentified']
    assert record['cells'][2]['unidentified'] is True
    for item in record['fields'] + record['cells']:
        assert (run_dir / item.get('picture', item.get('crop'))).is_file()
    assert record['skipped'] == [dict(image='c/broken.jpg', reason='not an image, or truncated')]
    assert set(record['colours']) == {*CLASSES, 'unidentified', NOT_WHITE}


def test_a_field_without_a_crop_per_white_cell_is_refused(tmp_path):
    run = SmearRun(tmp_path, CLASSES)
    with pytest.raises(ValueError, match=r'x.jpg: 1 white cells need as many crops, got 0'):
        run.add_field('x.jpg', np.zeros((20, 20, 3), np.uint8),
                      [white([1, 1, 9, 9], 'neutrophil', 0.9)])


def test_draw_field_boxes_in_class_colours_and_keeps_the_input():
    img = np.full((100, 100, 3), 255, np.uint8)
    out = draw_field(img, [dict(box=[10, 10, 40, 40], label='RBC', score=0.9),
                           white([50, 50, 90, 90], 'neutrophil', 0.5)], thickness=1)
    assert (img == 255).all()
    assert tuple(out[25, 10]) == class_colour('RBC')  # left edge of the red cell's box
    assert tuple(out[70, 90]) == class_colour('neutrophil')  # right edge of the white cell's
    assert tuple(out[25, 25]) == (255, 255, 255)  # inside a box: untouched


def test_page_embeds_the_record_safely(run_dir):
    record = load_run(run_dir)
    record['fields'][0]['image'] = 'odd</script><b><!--<script>name.jpg'
    page = write_review_page(record, run_dir).read_text()
    assert page.count('</script>') == 2  # the data block and the script, nothing from the data
    data = page.split('id="run-data">')[1].split('</script>')[0]
    assert '<' not in data  # nor "<!--", which would change how the block is read
    assert json.loads(data)['fields'][0]['image'] == 'odd</script><b><!--<script>name.jpg'
    assert 'src="http' not in page and '<link' not in page  # nothing from the network


def test_page_needs_the_crops(tmp_path):
    run = SmearRun(tmp_path, CLASSES, crops=False)
    run.add_field('x.jpg', np.zeros((20, 20, 3), np.uint8), [white([1, 1, 9, 9], 'neutrophil', 1)])
    with pytest.raises(ValueError, match='no crop'):
        write_review_page(run.write(), tmp_path)


def test_corrections_are_read_against_their_run(run_dir):
    path = corrections(run_dir, [
        dict(id='0000_00', crop='crops/0000_00.png', predicted='neutrophil', label='lymphocyte'),
        dict(id='0001_00', predicted='unidentified', label=NOT_WHITE),
        dict(id='0000_01', label='lymphocyte')])
    cells, classes = read_corrections(path, run_dir)
    assert classes == CLASSES
    assert [(c.id, c.predicted, c.label) for c in cells] == [
        ('0000_00', 'neutrophil', 'lymphocyte'), ('0001_00', 'unidentified', NOT_WHITE),
        ('0000_01', 'lymphocyte', 'lymphocyte')]
    ann = run_dir / 'ann.txt'
    assert write_annotation_list(cells, classes, ann) == 2  # "not a white cell" is no class
    lines = ann.read_text().splitlines()
    assert lines == [f"{run_dir.resolve() / 'crops/0000_00.png'} 0",
                     f"{run_dir.resolve() / 'crops/0000_01.png'} 0"]


@pytest.mark.parametrize('entry, changes, message', [
    (dict(id='0000_00', label='basophil'), {}, r"entry 0 \(cell '0000_00'\) has the label "
     r"'basophil', which is none of"),
    (dict(id='0009_00', label='lymphocyte'), {}, r"entry 0 \(cell '0009_00'\) names a cell that "
     'is not in the run'),
    (dict(id='0000_00', crop='crops/other.png', label='lymphocyte'), {},
     r"names the crop 'crops/other.png'; the run has 'crops/0000_00.png'"),
    (dict(id='0000_00', label='lymphocyte'), dict(run_id='0123abcd'),
     r"was saved from run '0123abcd', not from the run in"),
    (dict(id='0000_00', label='lymphocyte'), dict(classes=['a', 'b']),
     r"has the classes \['a', 'b'\], the run in .* has \['lymphocyte', 'neutrophil'\]"),
    (dict(label='lymphocyte'), {}, 'entry 0 is not a cell with an id and a label'),
    (dict(id=['0000_00'], label='lymphocyte'), {}, r"entry 0: its id and label must be "
     r"strings, got \['0000_00'\] and 'lymphocyte'"),
    (dict(id='0000_00', label='lymphocyte'), dict(format='something'),
     'is not a corrections file'),
])
def test_bad_corrections_are_refused_naming_the_entry(run_dir, entry, changes, message):
    path = corrections(run_dir, [entry], **changes)
    with pytest.raises(CorrectionsError, match=message):
        read_corrections(path, run_dir)


def test_a_missing_crop_or_a_repeated_cell_is_refused(run_dir):
    path = corrections(run_dir, [dict(id='0000_00', label='lymphocyte')] * 2)
    with pytest.raises(CorrectionsError, match=r"entry 1 \(cell '0000_00'\) names the cell a "
                       'second time'):
        read_corrections(path, run_dir)
    (run_dir / 'crops' / '0000_00.png').unlink()
    with pytest.raises(CorrectionsError, match=r'0000_00.png does not exist'):
        read_corrections(corrections(run_dir, [dict(id='0000_00', label='lymphocyte')]), run_dir)


def test_not_json_and_no_run_are_named(run_dir, tmp_path):
    bad = run_dir / 'bad.json'
    bad.write_text('{"format": ')
    with pytest.raises(CorrectionsError, match='bad.json is not JSON'):
        read_corrections(bad, run_dir)
    path = corrections(run_dir, [])
    with pytest.raises(FileNotFoundError, match='run.json does not exist'):
        read_corrections(path, tmp_path / 'elsewhere')


def test_corrected_cell_lines_use_class_indices(tmp_path):
    cells = [CorrectedCell('x', tmp_path / 'x.png', 'lymphocyte', 'neutrophil')]
    assert write_annotation_list(cells, CLASSES, tmp_path / 'a.txt') == 1
    assert (tmp_path / 'a.txt').read_text().endswith('x.png 1\n')
