"""Time a run's review page in headless Chromium: load, render, every picture shown, and a
reassignment; optionally take screenshots of it.

Each repeat starts a fresh browser on ``review.html`` (as a person opening the file) and
measures, from the start of navigation: the load event (the page and the pictures in view; the
others load lazily as they scroll in), the end of the page's own script (table, chart, gallery
and fields built), and every picture of the run decoded; then the time one reassignment takes
to update the counts. Prints the median and range over the repeats and writes them as JSON.

Example:
    python tools/analysis_tools/review_page_timing.py work_dirs/infer --repeats 5 \\
        --screenshots docs/images
"""
import argparse
import json
import statistics
from pathlib import Path

from mmcell.review import load_run
from mmcell.review.browser import open_page

MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const rendered = performance.getEntriesByName('mmcell-rendered')[0];
  return {load_ms: nav.loadEventEnd, rendered_ms: rendered ? rendered.startTime : null};
}"""
ALL_PICTURES = "[...document.images].every(img => img.complete && img.naturalWidth > 0)"
REASSIGN = """() => {
  const select = document.querySelector('.crop select');
  if (!select) return null;
  const other = [...select.options].map(o => o.value).find(v => v !== select.value);
  const start = performance.now();
  select.value = other;
  select.dispatchEvent(new Event('change'));
  return performance.now() - start;
}"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('run_dir', help='the folder tools/infer.py --report wrote')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--screenshots', help='folder for screenshots of the page')
    parser.add_argument('--out', help='JSON file for the figures (default: '
                        '<run_dir>/review_page_timing.json)')
    return parser.parse_args(argv)


def time_once(page_path):
    with open_page(page_path) as (page, errors):
        figures = page.evaluate(MEASURE)
        page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
        page.wait_for_function(ALL_PICTURES, timeout=120_000)
        figures['all_pictures_ms'] = page.evaluate('performance.now()')
        figures['reassign_ms'] = page.evaluate(REASSIGN)
        figures['console_errors'] = len(errors)
    return figures


def screenshots(page_path, out):
    out.mkdir(parents=True, exist_ok=True)
    with open_page(page_path, width=1280, height=860) as (page, _):
        page.screenshot(path=str(out / 'review_page_top.png'))
        page.evaluate("document.getElementById('gallery-section').scrollIntoView()")
        page.screenshot(path=str(out / 'review_page_gallery.png'))
        first = page.query_selector('.crop img')
        if first is not None:
            first.click()
            page.wait_for_timeout(300)
            page.screenshot(path=str(out / 'review_page_field.png'))
    return sorted(str(p) for p in out.glob('review_page_*.png'))


def main(argv=None):
    args = parse_args(argv)
    run_dir = Path(args.run_dir)
    record = load_run(run_dir)
    page_path = run_dir / 'review.html'
    runs = [time_once(page_path) for _ in range(args.repeats)]
    summary = dict(run_dir=str(run_dir), fields=len(record['fields']),
                   white_cells=len(record['cells']),
                   pictures=len(record['fields']) + len(record['cells']),
                   page_bytes=page_path.stat().st_size, repeats=runs)
    print(f"{summary['fields']} fields, {summary['white_cells']} white-cell crops, page "
          f"{summary['page_bytes'] / 1024:.0f} KiB; median (min-max) over {args.repeats} "
          'fresh browser starts:')
    for key in ('load_ms', 'rendered_ms', 'all_pictures_ms', 'reassign_ms'):
        values = [r[key] for r in runs if r[key] is not None]
        if values:
            summary[key] = statistics.median(values)
            print(f'  {key:<16}{statistics.median(values):9.1f} ms  '
                  f'({min(values):.1f}-{max(values):.1f})')
    print(f"  console errors: {sum(r['console_errors'] for r in runs)}")
    if args.screenshots:
        summary['screenshots'] = screenshots(page_path, Path(args.screenshots))
        print('wrote ' + ', '.join(summary['screenshots']))
    out = Path(args.out or run_dir / 'review_page_timing.json')
    out.write_text(json.dumps(summary, indent=1))
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
