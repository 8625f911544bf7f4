"""The review page in a real browser: headless Chromium (Debian's) driven by Playwright.

Skipped, saying why, only where no Chromium or Playwright can be had (tools/setup_env.sh
installs both where it can)."""
import csv
import json
import re

import pytest

from mmcell.review import NOT_WHITE, read_corrections
from mmcell.review.browser import BrowserUnavailable, chromium_path, open_page
from mmcell.uncertainty import NOT_WHITE_CLASSES, NUCLEATED_RED_CLASSES, proportion_interval

from ..conftest import PBC_CLASSES, load_tool


@pytest.fixture(scope='module')
def browser():
    try:
        chromium_path()
        import playwright  # noqa: F401
    except (BrowserUnavailable, ImportError) as err:
        pytest.skip(f'no headless browser here: {err}')


@pytest.fixture(scope='module')
def infer():
    return load_tool('tools/infer.py')


@pytest.fixture(scope='module')
def smear_run(infer, cell_classifier, cell_detector, synthetic_data, tmp_path_factory):
    """tools/infer.py --report on two synthetic smears and one broken file (random weights,
    each smear's 6 boxes; the detector's 'RBC' boxes stand for white cells)."""
    out = tmp_path_factory.mktemp('run')
    images = synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages'
    broken = out.parent / 'broken.jpg'
    broken.write_bytes(b'\xff\xd8\xff not really a jpeg')
    infer.main([str(images / 'Smear_00006.jpg'), str(images / 'Smear_00007.jpg'), str(broken),
                '--detector', *cell_detector, '--classifier', *cell_classifier,
                '--score-thr', '0', '--white-class', 'RBC', '--report', '--out-dir', str(out)])
    return out


# The white-cell differential of PBC's classes: leukocyte rows, erythroblasts per 100 white
# cells, platelets apart.
WHITE = [c for c in PBC_CLASSES if c not in NUCLEATED_RED_CLASSES + NOT_WHITE_CLASSES]
assert (WHITE, [c for c in PBC_CLASSES if c not in WHITE]) == (
    ['basophil', 'eosinophil', 'ig', 'lymphocyte', 'monocyte', 'neutrophil'],
    ['erythroblast', 'platelet'])


def shown_rows(page):
    return {row.get_attribute('data-class'): [td.inner_text()
                                              for td in row.query_selector_all('td')]
            for row in page.query_selector_all('#differential tbody tr')}


def csv_rows(path):
    with open(path) as f:
        return {r['class']: r for r in csv.DictReader(f)}


def test_infer_writes_field_pictures_crops_and_the_page(smear_run):
    record = json.loads((smear_run / 'run.json').read_text())
    assert len(record['fields']) == 2 and len(list((smear_run / 'fields').glob('*.png'))) == 2
    assert record['cells'] and len(list((smear_run / 'crops').glob('*.png'))) == len(
        record['cells'])
    assert [s['image'].rsplit('/', 1)[-1] for s in record['skipped']] == ['broken.jpg']
    assert (smear_run / 'review.html').is_file()


def test_the_page_holds_the_classes_counted_apart(smear_run):
    """Without a browser: the run and the page's data name the classes that are not in the
    white-cell rows, as the pipeline's differential has them."""
    record = json.loads((smear_run / 'run.json').read_text())
    assert record['nucleated_red'] == list(NUCLEATED_RED_CLASSES)
    assert record['not_white'] == list(NOT_WHITE_CLASSES)
    page = (smear_run / 'review.html').read_text()
    data = json.loads(re.search(r'<script type="application/json" id="run-data">(.*?)</script>',
                                page, re.S).group(1))
    assert (data['nucleated_red'], data['not_white']) == (record['nucleated_red'],
                                                          record['not_white'])
    assert 'RUN.nucleated_red' in page and 'RUN.not_white' in page
    # the CSV's rows: white classes, unidentified, nucleated red cells, cells apart
    assert list(csv_rows(smear_run / 'differential.csv')) == [
        *WHITE, 'unidentified', 'erythroblast', 'platelet (not a white cell)']


def test_a_record_without_the_lists_gets_the_pipelines(tmp_path):
    from mmcell.review import write_review_page
    record = dict(id='0' * 32, classes=list(PBC_CLASSES), cells=[], fields=[], skipped=[])
    page = write_review_page(record, tmp_path).read_text()
    assert f'"nucleated_red": {json.dumps(list(NUCLEATED_RED_CLASSES))}' in page
    assert f'"not_white": {json.dumps(list(NOT_WHITE_CLASSES))}' in page


def test_page_loads_from_disk_and_shows_what_the_csv_holds(browser, smear_run):
    expected = csv_rows(smear_run / 'differential.csv')
    record = json.loads((smear_run / 'run.json').read_text())
    with open_page(smear_run / 'review.html') as (page, errors):
        shown = shown_rows(page)
        assert page.evaluate('mmcellClasses') == dict(
            white=WHITE, nucleatedRed=['erythroblast'], notWhite=['platelet'])
        for name in [*WHITE, 'unidentified']:  # percent of the identified white cells; of all
            row = expected[name]
            assert shown[name][1:] == [row['count'], row['percent'],
                                       f"{row['ci95_low']}\u2013{row['ci95_high']}", ''], name
        row = expected['erythroblast']  # per 100 white cells
        assert shown['erythroblast'][1:] == [row['count'], '', '', row['per_100_wbc']]
        assert 'nucleated red' in shown['erythroblast'][0]
        row = expected['platelet (not a white cell)']  # apart
        assert shown['platelet'] == ['platelet (not a white cell)', row['count'], '', '', '']
        assert shown['identified'][1] == str(sum(int(expected[c]['count']) for c in WHITE))
        assert shown[NOT_WHITE][1] == '0'
        crops = page.query_selector_all('.crop')
        assert len(crops) == len(record['cells'])
        for group in page.query_selector_all('.group'):  # least certain first
            scores = [float(c.inner_text().split('p=')[1].split()[0])
                      for c in group.query_selector_all('.crop')]
            assert scores == sorted(scores)
        assert 'broken.jpg' in page.inner_text('#skipped')
        page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
        page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth)")
        crops[0].query_selector('img').click()  # the crop's place in its field
        field = record['cells'][[c['id'] for c in record['cells']].index(
            crops[0].get_attribute('data-cell'))]['field']
        assert page.query_selector(f'#field-{field} .mark') is not None
    assert errors == []


def test_reassigning_changes_the_counts_and_the_corrections_feed_the_fine_tune(
        browser, smear_run, cell_classifier, tmp_path):
    with open_page(smear_run / 'review.html', downloads=True) as (page, errors):
        before = shown_rows(page)
        cards = page.query_selector_all('.crop')
        assert len(cards) >= 4
        predicted = [card.query_selector('select').input_value() for card in cards[:4]]
        new = next(c for c in WHITE if c != predicted[0])
        for card in cards[:2]:  # two cells to `new`, two confirmed as predicted
            card.query_selector('select').select_option(new)
        for card in cards[2:4]:
            card.query_selector('.confirm').click()
        after = shown_rows(page)
        expected = {c: int(before[c][1]) for c in PBC_CLASSES}
        for old in predicted[:2]:
            expected[old] -= 1
            expected[new] += 1
        assert {c: int(after[c][1]) for c in PBC_CLASSES} == expected
        total = sum(expected[c] for c in WHITE)
        low, high = proportion_interval(expected[new], total)
        assert after[new][2:] == [f'{100 * expected[new] / total:.1f}',
                                  f'{100 * low:.1f}\u2013{100 * high:.1f}', '']
        assert after['identified'][1] == str(total)
        assert after['erythroblast'][4] == f"{100 * expected['erythroblast'] / total:.1f}"
        reassigned = sum(old != new for old in predicted[:2])
        assert page.inner_text('#changes') == f'4 cells reviewed, {reassigned} reassigned'
        page.reload()  # the work survives a reload
        assert page.inner_text('#changes') == f'4 cells reviewed, {reassigned} reassigned'
        with page.expect_download() as download:
            page.click('#save')
        saved = smear_run / 'corrections.json'
        download.value.save_as(saved)
    assert errors == []
    cells, classes = read_corrections(saved, smear_run)
    assert list(classes) == list(PBC_CLASSES)
    assert len(cells) == 4
    assert sorted((c.predicted, c.label) for c in cells) == sorted(
        [(p, new) for p in predicted[:2]] + [(p, p) for p in predicted[2:4]])
    adapt = load_tool('tools/adapt_classifier.py')
    adapt.main([*cell_classifier, str(smear_run), str(saved), '--work-dir', str(tmp_path),
                '--iters', '1', '--holdout', '0.5'])
    report = json.loads((tmp_path / 'adaptation.json').read_text())
    assert report['train_cells'] + report['held_back'] == 4 and report['iters'] == 1
    assert (tmp_path / 'iter_1.pth').is_file()


STALE_STORAGE = """() => {
  const key = Object.keys(localStorage).find(k => k.startsWith('mmcell-review-'))
    || 'mmcell-review-' + JSON.parse(document.getElementById('run-data').textContent).id;
  const cell = document.querySelector('.crop').dataset.cell;
  localStorage.setItem(key, JSON.stringify({[cell]: {label: 'no-such-class'},
                                            nope: {label: 'ig'}}));
}"""


def test_cells_reassigned_out_of_the_white_cells_leave_the_percentages(browser, smear_run):
    with open_page(smear_run / 'review.html') as (page, errors):
        before = shown_rows(page)
        cards = [card for card in page.query_selector_all('.crop')
                 if card.query_selector('select').input_value() in WHITE]
        assert len(cards) >= 2
        cards[0].query_selector('select').select_option('erythroblast')
        cards[1].query_selector('select').select_option(NOT_WHITE)
        after = shown_rows(page)
        identified = int(before['identified'][1]) - 2
        red = int(before['erythroblast'][1]) + 1
        assert after['identified'][1] == str(identified)
        assert after['erythroblast'][1:] == [str(red), '', '', f'{100 * red / identified:.1f}']
        assert after[NOT_WHITE][1] == '1' and after['platelet'] == before['platelet']
        counts = {c: int(after[c][1]) for c in WHITE}
        assert sum(counts.values()) == identified
        assert sum(float(after[c][2]) for c in WHITE) == pytest.approx(100, abs=0.1 * len(WHITE))
        unidentified = int(after['unidentified'][1])
        low, high = proportion_interval(unidentified, identified + unidentified)
        assert after['unidentified'][2:4] == [
            f'{100 * unidentified / (identified + unidentified):.1f}',
            f'{100 * low:.1f}\u2013{100 * high:.1f}']
    assert errors == []


def test_page_intervals_are_the_exact_binomial_ones(browser, smear_run):
    with open_page(smear_run / 'review.html') as (page, errors):
        before = shown_rows(page)
        page.evaluate(STALE_STORAGE)  # stored work this page cannot show is dropped
        page.reload()
        assert page.inner_text('#changes') == 'no cell reviewed yet'
        assert shown_rows(page) == before
        for k, n in [(0, 100), (10, 100), (37, 200), (200, 200), (1, 3), (512, 1000)]:
            low, high = page.evaluate(f'mmcellProportionInterval({k}, {n}, 0.95)')
            assert (low, high) == pytest.approx(proportion_interval(k, n), abs=1e-6)
    assert errors == []


def test_a_run_without_white_cells_still_has_a_page(browser, infer, cell_classifier,
                                                    cell_detector, synthetic_data, tmp_path):
    image = synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages' / 'Smear_00006.jpg'
    infer.main([str(image), '--detector', *cell_detector, '--classifier', *cell_classifier,
                '--score-thr', '1.01', '--report',  # no box: no white cell
                '--out-dir', str(tmp_path)])
    with open_page(tmp_path / 'review.html') as (page, errors):
        assert page.inner_text('#no-cells') == 'No white cells were found in the 1 field of ' \
            'this run.'
        assert shown_rows(page)['identified'][1] == '0'
    assert errors == []
