"""Measure one model in this process: parameters, MACs, inference speed and memory, training step.

The benchmark's driver (``tools/analysis_tools/benchmark.py``) starts one worker process per
model (``--worker NAME``), so that each starts clean and its peak memory is its own; the worker
prints its table rows as one ``BENCHMARK-ROWS <json>`` line (:func:`run`), and what it could not
measure as ``NOTE`` lines.

Times are the median of the timed iterations. Peak memory is the process's resident-set
high-water mark during a measurement (warm-up included), less what it held before (weights and
the runtime) once glibc has handed its free pages back to the system: what one step of that kind
needs. Without that, memory the allocator kept from an earlier step would hide what this one
needs.
"""
import ctypes
import json
import os
import statistics
import threading
import time
import traceback
from pathlib import Path
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Callable, ContextManager, Iterator, List, Optional, Sequence, Tuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from .models import INPUT_SHAPES, MODELS, build

__all__ = ['NOTE_PREFIX', 'PeakMemory', 'ROWS_PREFIX', 'count_macs', 'measure', 'median_seconds',
           'run', 'throughput', 'train_step']

ROWS_PREFIX = 'BENCHMARK-ROWS '
NOTE_PREFIX = 'NOTE '


class PeakMemory:
    """Resident-set high-water mark of this process during a ``with`` block, above its start
    (taken after glibc's ``malloc_trim`` has returned free heap pages, where libc is glibc).

    Attributes:
        mib (float): After the block, its peak above the start, in MiB.
    """

    def __init__(self, interval: float = 0.002):
        self.interval = interval
        self.page = os.sysconf('SC_PAGE_SIZE')
        try:
            self._trim = ctypes.CDLL('libc.so.6').malloc_trim
        except (OSError, AttributeError):
            self._trim = lambda pad: None

    def rss(self) -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * self.page

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)

    def __enter__(self):
        self._trim(0)
        self.start = self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())
        self.mib = (self.peak - self.start) / 2**20


def count_macs(forward: Callable, x: torch.Tensor) -> float:
    """Multiply-adds per image of ``forward(x)`` (``torch.utils.flop_counter``)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        forward(x)
    return counter.get_total_flops() / 2 / x.size(0)  # flop_counter counts a multiply-add twice


def median_seconds(step: Callable[[], object], iters: int) -> float:
    """The median time of ``iters`` calls of ``step``: on a shared machine a few slow calls
    (another process, the allocator returning memory to the OS) move a mean, not a median."""
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextmanager
def mixed_precision(model: torch.nn.Module, task: str) -> Iterator[None]:
    """bfloat16 as mmcell trains in it: a classifier wholly under CPU autocast (``--amp``); a
    two-stage detector's backbone, neck, RPN head and box head, their weights channels-last,
    with mmcv's RoIAlign and NMS (no bfloat16 CPU kernels) and the losses in float32
    (``AutocastModulesHook(channels_last=True)``, as the Chula CPU configs train)."""
    if task != 'det':
        with torch.autocast('cpu', dtype=torch.bfloat16):
            yield
        return
    from mmcell.engine.autocast_hook import autocast_module  # mmengine: not in the HF worker
    named = dict(model.named_modules())
    restores = [autocast_module(named[name], channels_last=True)
                for name in DETECTOR_BF16_PARTS if name in named]
    try:
        yield
    finally:
        for restore in restores:
            restore()


#: The parts of a detector :func:`mixed_precision` runs in bfloat16 (those it has).
DETECTOR_BF16_PARTS = ('backbone', 'neck', 'rpn_head', 'roi_head.bbox_head')


def throughput(forward: Callable, x: torch.Tensor, iters: int, warmup: int,
               precision: Callable[[], ContextManager] = nullcontext) -> Tuple[float, float]:
    """Images/s (from the median iteration) and the peak memory (MiB) of inference, in the
    context ``precision()`` gives (:func:`mixed_precision` for bfloat16)."""
    with torch.no_grad(), precision():
        with PeakMemory() as memory:
            for _ in range(warmup):
                forward(x)
            seconds = median_seconds(lambda: forward(x), iters)
    return x.size(0) / seconds, memory.mib


def train_step(model: torch.nn.Module, loss: Callable, x: torch.Tensor, iters: int,
               warmup: int, precision: Callable[[], ContextManager] = nullcontext
               ) -> Tuple[float, float]:
    """Seconds per training step (SGD, the median step) and the peak memory (MiB) of one, the
    forward in the context ``precision()`` gives (parameters, gradients and the optimizer in
    float32)."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with precision():
            value = loss(x)
        value.backward()
        optimizer.step()
    with PeakMemory() as memory:
        for _ in range(warmup):
            step()
        seconds = median_seconds(step, iters)
    model.eval()
    return seconds, memory.mib


def measure(name: str, batches: Sequence[int], iters: int, warmup: int,
            shape: Optional[Tuple[int, int]] = None, train: bool = True,
            bf16: bool = True) -> List[dict]:
    """The rows of the benchmark table for one model of :data:`~.models.MODELS`, one per batch.

    Args:
        name (str): The model.
        batches (Sequence[int]): Batch sizes.
        iters (int): Timed iterations per figure.
        warmup (int): Untimed iterations before them.
        shape (tuple[int, int], optional): Input (H, W). Defaults to the model's own
            (``input_shape``), else the task's.
        train (bool): Also time the training step (not for a model converted for CPU
            inference: its cells say ``n/a``). Defaults to True.
        bf16 (bool): Also time bf16 inference (CPU autocast). Defaults to True.

    Returns:
        list[dict]: The rows (keys as :data:`~.report.COLUMNS`).
    """
    torch.manual_seed(0)
    spec = MODELS[name]
    shape = shape or spec.input_shape or INPUT_SHAPES[spec.task]
    model, forward, loss = build(name)
    model.eval()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    macs = count_macs(forward, torch.randn(1, 3, *shape)) / 1e9
    rows = []
    if train and spec.cpu_inference:
        print(f'{NOTE_PREFIX}{name} training: not timed, the conversion is for inference',
              flush=True)
    for batch in batches:
        x = torch.randn(batch, 3, *shape)
        row = dict(model=name, task=spec.task, input=f'{shape[1]}x{shape[0]}', batch=batch,
                   params_M=round(params, 2), gmacs=round(macs, 2))
        row['fp32_img_s'], row['infer_peak_MiB'] = throughput(forward, x, iters, warmup)
        bf16_context = partial(mixed_precision, model, spec.task)
        row['bf16_img_s'] = (_try(f'{name} bf16', lambda: throughput(
            forward, x, iters, warmup, bf16_context)[0]) if bf16 else 'n/a')
        if train and spec.cpu_inference:
            row.update(train_step_s='n/a', bf16_train_step_s='n/a', train_peak_MiB='n/a')
        elif train:
            row['train_step_s'], row['train_peak_MiB'] = train_step(model, loss, x, iters,
                                                                    warmup)
            row['bf16_train_step_s'] = (_try(f'{name} bf16 training', lambda: train_step(
                model, loss, x, iters, warmup, bf16_context)[0]) if bf16 else 'n/a')
        rows.append({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
    return rows


def _try(what, fn):
    """``fn()``, or 'n/a' in the table and the reason on a NOTE line (e.g. an op without a bf16
    CPU kernel)."""
    try:
        return fn()
    except Exception as err:
        where = traceback.extract_tb(err.__traceback__)[-1]
        print(f'{NOTE_PREFIX}{what}: {type(err).__name__}: {str(err).splitlines()[0]} '
              f'({Path(where.filename).name}:{where.lineno})', flush=True)
        return f'n/a ({type(err).__name__})'


def run(name: str, batches: Sequence[int], iters: int, warmup: int,
        sizes: Optional[Sequence[int]] = None, bf16: str = 'on') -> None:
    """Measure one model and print its rows as one ``BENCHMARK-ROWS <json>`` line.

    Args:
        name (str): The model.
        batches (Sequence[int]): Batch sizes.
        iters (int): Timed iterations per figure.
        warmup (int): Untimed iterations first.
        sizes (Sequence[int], optional): Square input sizes for the scaling table: inference
            in fp32 only, at each size. Defaults to None: the main table's row, at the task's
            input size.
        bf16 (str): ``'on'`` or ``'off'``: time bf16 inference too (main table only).
    """
    if sizes:
        rows = [row for size in sizes for row in measure(
            name, batches, iters, warmup, shape=(size, size), train=False, bf16=False)]
    else:
        rows = measure(name, batches, iters, warmup, bf16=bf16 == 'on')
    print(ROWS_PREFIX + json.dumps(rows), flush=True)
