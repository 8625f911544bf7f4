"""Mend: the stack's known-harmless warnings, silenced one by one in mmcell's entry points.

Upstream: in a quick-start run (``make demo``) the pinned stack prints about 30 warning lines that
say nothing about the run: setuptools 81 warns "pkg_resources is deprecated" each time mmengine
0.10.7's ``is_installed`` reloads it (every ``mmpretrain::``/``mmdet::`` base a config names);
mmengine's ``CheckpointHook`` builds a deprecated ``FileClient`` (two warnings) in every
``before_train``; mmpretrain's and mmdet's inferencers build a visualizer without ``save_dir``
(mmengine warns it cannot add its local backend, which inference never uses) and look up
``pseudo_collate`` in an mmdet ``function`` registry that does not exist (mmengine warns and uses
its own, the right one).
Why: a newcomer reads these as errors. Each is matched by its own message (and category), so any
other warning still shows; nothing here runs on ``import mmcell``, only in the tools that call
:func:`quiet_known_warnings`.
When it can go: with mmengine > 0.10.7 (no pkg_resources, CheckpointHook without FileClient) and
inferencers that pass ``save_dir`` and find their collate function in scope.
"""
import logging
import re
import warnings
from typing import Optional

__all__ = ['KNOWN_HARMLESS_LOG_MESSAGES', 'KNOWN_HARMLESS_WARNINGS', 'quiet_known_warnings']

# (category, regular expression matched at the start of the message), for Python's warnings.
KNOWN_HARMLESS_WARNINGS = (
    (UserWarning, r'pkg_resources is deprecated as an API'),
    (UserWarning, r"Failed to add <class 'mmengine\.visualization\.vis_backend\.LocalVisBackend'>"
     r', please provide the `save_dir` argument'),
)
# Regular expressions matched at the start of a WARNING record of mmengine's logger.
KNOWN_HARMLESS_LOG_MESSAGES = (
    r'"FileClient" will be deprecated in future',
    r'"HardDiskBackend" is the alias of "LocalBackend"',
    r'Failed to search registry with scope "mmdet" in the "function" registry tree',
)


class _KnownHarmless(logging.Filter):
    """Drops the WARNING records of :data:`KNOWN_HARMLESS_LOG_MESSAGES`."""

    pattern = re.compile('|'.join(f'(?:{m})' for m in KNOWN_HARMLESS_LOG_MESSAGES))

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING
                    and self.pattern.match(str(record.getMessage())))


def quiet_known_warnings(logger: Optional[logging.Logger] = None) -> None:
    """Silence the known-harmless warnings (and only those) in this process.

    Call it at the start of an entry point's ``main``, and again with the Runner's logger once the
    Runner is built (mmengine makes a new logger per run; the filter goes on one logger).

    Args:
        logger (logging.Logger, optional): The logger whose known-harmless records to drop.
            Defaults to None (mmengine's current ``MMLogger``).

    Example:
        >>> import logging, warnings
        >>> from mmengine.logging import MMLogger
        >>> from mmcell.compat import quiet_known_warnings
        >>> logger = MMLogger.get_instance('quiet_example', log_level='WARNING')
        >>> quiet_known_warnings(logger)
        >>> logger.warning('"FileClient" will be deprecated in future. Please use io functions')
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.warn('pkg_resources is deprecated as an API. See ...', UserWarning)
        ...     warnings.warn('something else', UserWarning)
        >>> [str(w.message) for w in caught]
        ['something else']
    """
    for category, message in KNOWN_HARMLESS_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category)
    if logger is None:
        from mmengine.logging import MMLogger
        logger = MMLogger.get_current_instance()
    if not any(isinstance(f, _KnownHarmless) for f in logger.filters):
        logger.addFilter(_KnownHarmless())
