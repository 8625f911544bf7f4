"""The documentation's relative links lead to files that exist, and the top README stays short."""
import re

import pytest

from .conftest import ROOT

DOCS = sorted([ROOT / 'README.md', *(ROOT / 'docs').glob('**/*.md'),
               *(ROOT / 'configs').glob('**/README.md')])
# [text](target): target up to the first space or closing parenthesis (an optional "title" after
# it is ignored); inline code spans are dropped first, so `[a](b)` in code is not a link.
LINK = re.compile(r'\[[^\]]*\]\(\s*([^)\s]+)(?:\s+"[^"]*")?\s*\)')
CODE_SPAN = re.compile(r'`[^`\n]*`')
FENCE = re.compile(r'^```.*?^```', re.S | re.M)


def relative_links(path):
    text = CODE_SPAN.sub('', FENCE.sub('', path.read_text(encoding='utf-8')))
    for target in LINK.findall(text):
        if re.match(r'[a-z][a-z0-9+.-]*:', target, re.I) or target.startswith('#'):
            continue  # http(s)://, mailto: ..., or an anchor in the same page
        yield target.split('#', 1)[0]


def test_the_documentation_is_there():
    names = {p.relative_to(ROOT).as_posix() for p in DOCS}
    assert {'README.md', 'configs/cellvit/README.md', 'configs/cs_arfpn/README.md',
            'configs/baselines/README.md', 'configs/efficientnet_lite/README.md'} <= names
    assert any(name.startswith('docs/') for name in names)


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(doc):
    links = list(relative_links(doc))
    missing = [link for link in links if not (doc.parent / link).exists()]
    assert not missing, f'{doc.relative_to(ROOT)} links to missing files: {missing}'


def test_top_readme_is_short():
    lines = (ROOT / 'README.md').read_text(encoding='utf-8').count('\n')
    assert lines < 300, f'README.md has {lines} lines; move details to docs/ or configs/*/README.md'


def test_the_link_finder_finds_links(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('[a](docs/x.md#part) [b](https://example.org) [c](#here) `[d](code.md)`\n'
                    '```\n[e](fenced.md)\n```\n[f](../y.md) [g](w.md "title")\n')
    assert list(relative_links(page)) == ['docs/x.md', '../y.md', 'w.md']
