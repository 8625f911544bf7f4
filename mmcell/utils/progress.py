"""Progress of a tool's loop that reads well on a terminal and in a log file."""
import sys
import time
from typing import Iterable, Iterator, Optional, TextIO, TypeVar

__all__ = ['track']

T = TypeVar('T')


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


def _log_lines(items: Iterable[T], total: int, description: str, stream: TextIO,
               lines: int) -> Iterator[T]:
    """Yield ``items``, writing a line with count, rate and time left at each ``1/lines`` step."""
    start = time.perf_counter()
    marks = sorted({max(1, round(total * k / lines)) for k in range(1, lines + 1)})
    done = 0
    for item in items:
        yield item
        done += 1
        if done in marks or done == total:
            elapsed = time.perf_counter() - start
            rate = done / elapsed if elapsed > 0 else float('inf')
            left = (total - done) / rate if rate and done < total else 0
            stream.write(f'{description}: {done}/{total} ({100 * done // total}%), '
                         f'{rate:.1f}/s, {_duration(elapsed)} elapsed'
                         + (f', {_duration(left)} left' if done < total else '') + '\n')
            stream.flush()


def track(items: Iterable[T], total: Optional[int] = None, description: str = 'working',
          stream: Optional[TextIO] = None, lines: int = 10) -> Iterator[T]:
    """Iterate over ``items`` showing one progress display for the whole loop.

    On a terminal this is one ``rich`` progress bar; where the output goes to a file or a CI log
    it is at most ``lines`` plain lines, each with the count, the rate and the time elapsed and
    left (mmengine's ``ProgressBar`` would write every update into one ever-growing line there).

    Args:
        items (Iterable): What the loop goes over.
        total (int, optional): Its length. Defaults to None (``len(items)``).
        description (str): What is being done, e.g. ``'boxes for 373 images'``.
            Defaults to ``'working'``.
        stream (TextIO, optional): Where to write. Defaults to None (``sys.stdout``).
        lines (int): The most log lines written off a terminal. Defaults to 10.

    Yields:
        The items, in order.

    Example:
        >>> import io
        >>> log = io.StringIO()
        >>> squares = [k * k for k in track(range(4), description='squares', stream=log,
        ...                                 lines=2)]
        >>> squares
        [0, 1, 4, 9]
        >>> [line.split(',')[0] for line in log.getvalue().splitlines()]
        ['squares: 2/4 (50%)', 'squares: 4/4 (100%)']
    """
    stream = sys.stdout if stream is None else stream
    total = len(items) if total is None else total
    if total == 0:
        yield from items
    elif stream.isatty():
        from rich.console import Console
        from rich.progress import track as rich_track
        yield from rich_track(items, description=description, total=total,
                              console=Console(file=stream))
    else:
        yield from _log_lines(items, total, description, stream, lines)
