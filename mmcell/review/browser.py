"""Open a page from disk in headless Chromium (Debian's) through Playwright.

Playwright's own browser download needs a network that mmcell does not assume; it drives the
system's Chromium instead (``tools/setup_env.sh`` installs Debian's ``chromium`` when missing).
The flags keep Chromium off the network (no background services, no component updates), which a
closed machine would otherwise refuse at every start.
"""
import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator, List, Tuple, Union

__all__ = ['BrowserUnavailable', 'chromium_path', 'open_page']

CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update',
                  '--disable-sync', '--disable-dev-shm-usage']


class BrowserUnavailable(RuntimeError):
    """No Chromium or no Playwright here; the message says which and how to get it."""


def chromium_path() -> str:
    """The Chromium to drive: ``$MMCELL_CHROMIUM``, else ``chromium`` on ``PATH``.

    Raises:
        BrowserUnavailable: Neither is there.
    """
    name = os.environ.get('MMCELL_CHROMIUM', 'chromium')
    path = shutil.which(name)
    if path is None:
        raise BrowserUnavailable(f'no Chromium ({name!r} is not on PATH): install Debian\'s '
                                 'chromium (tools/setup_env.sh does, as root) or set '
                                 'MMCELL_CHROMIUM')
    return path


@contextlib.contextmanager
def open_page(path: Union[str, Path], width: int = 1400, height: int = 900,
              downloads: bool = False) -> Iterator[Tuple[object, List[str]]]:
    """Load a file in headless Chromium; yield the Playwright page and its console errors.

    Args:
        path (str | Path): The HTML file.
        width (int): Viewport width. Defaults to 1400.
        height (int): Viewport height. Defaults to 900.
        downloads (bool): Accept downloads (``page.expect_download``). Defaults to False.

    Yields:
        tuple[playwright.sync_api.Page, list[str]]: The loaded page and a list that collects
        console errors and uncaught exceptions as they happen.

    Raises:
        BrowserUnavailable: Playwright or Chromium is missing.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserUnavailable('playwright is not installed (requirements/tests.txt)') from None
    executable = chromium_path()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport=dict(width=width, height=height),
                                          accept_downloads=downloads)
            page = context.new_page()
            errors: List[str] = []
            page.on('console', lambda msg: errors.append(msg.text) if msg.type == 'error'
                    else None)
            page.on('pageerror', lambda err: errors.append(str(err)))
            page.goto(Path(path).resolve().as_uri())
            yield page, errors
        finally:
            browser.close()
