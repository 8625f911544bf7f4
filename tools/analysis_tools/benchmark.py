"""Benchmark mmcell's models against their peers on this machine, in one run.

For each model: parameters, GMACs (``torch.utils.flop_counter``, one multiply-add counted once),
inference images/s in fp32 and bf16 (CPU autocast), training step time (forward, cross-entropy or
the detector's losses, backward, SGD step) and peak memory, at each batch size. Times are the
median of the timed iterations. Each model runs in its own process, so it starts clean and its
peak memory is its own; Hugging Face CvT-13 runs in the side environment that has transformers
(``$MMCELL_VENV/hf-parity``; it breaks mmpretrain).
Ratios are taken against the peers measured in the same run: an absolute figure alone says little
on a shared machine.

Peak memory is the process's resident-set high-water mark during a measurement (warm-up
included), less what it held before (weights and the runtime) once glibc has handed its free pages
back to the system: what one step of that kind needs. Without that, memory the allocator kept from
an earlier step would hide what this one needs.

Writes ``benchmark.csv``/``.json`` (and ``scaling.csv``/``.json`` with ``--scaling``) to
``--out-dir`` and prints the tables and the performance goals.

This file is the command line and the driver (one worker process per model, the scaling sweep);
the model list, the measurements and the report are in :mod:`mmcell.benchmark`.

The ``cellvit-cpu`` and ``cellvit-cls-head-cpu`` rows are CellViT and its CLS-head ablation
converted for CPU inference (:func:`mmcell.engine.convert_for_cpu_inference`), as mmcell's tools
run them; the goals read those rows.

With ``--smear-run FIELDS`` it also times the whole smear run as users run it: ``tools/infer.py``
on those fields once per ``--smear-detector NAME CONFIG CHECKPOINT``, each with the
``--smear-classifier`` (:mod:`mmcell.benchmark.smear_run`): seconds for the run, detection
seconds a field, classification seconds a white cell (``smear_run.csv``/``.json``).

Examples:
    python tools/analysis_tools/benchmark.py                    # all models, batch 1 and 32
    python tools/analysis_tools/benchmark.py --models cellvit cellvit-cpu --batches 32
    python tools/analysis_tools/benchmark.py --models cellvit hf-cvt-13 --scaling
    python tools/analysis_tools/benchmark.py --quick            # a smoke run (CI)
    python tools/analysis_tools/benchmark.py --models faster-rcnn-lite0-fpn cs-arfpn-r50 \\
        --smear-run ../shared/data/bccd/BCCD/JPEGImages --smear-fields 100 \\
        --smear-detector lite0-fpn configs/lite_fpn/faster_rcnn_lite0_fpn_bccd.py lite.pth \\
        --smear-detector cs-arfpn-r50 configs/cs_arfpn/cs_arfpn_r50_bccd.py cs_arfpn.pth \\
        --smear-classifier configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py cls.pth
"""
import argparse
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The side folder with transformers that tools/setup_env.sh fills, for hf-cvt-13's worker.
HF_SIDE = Path(os.environ.get('MMCELL_VENV', ROOT / '.venv'), 'hf-parity')


def _import_benchmark():
    """Import :mod:`mmcell.benchmark`; in the Hugging Face worker without ``mmcell/__init__.py``.

    That worker runs with the side folder on ``PYTHONPATH``, and transformers from there breaks
    mmpretrain's import, which ``import mmcell`` does. :mod:`mmcell.benchmark` itself needs
    none of it, so there the ``mmcell`` package is put in ``sys.modules`` as found, without
    running its ``__init__``, and only its ``benchmark`` subpackage is imported.
    """
    side = HF_SIDE.resolve()
    if 'mmcell' not in sys.modules and any(Path(p).resolve() == side for p in sys.path if p):
        sys.modules['mmcell'] = importlib.util.module_from_spec(importlib.util.find_spec('mmcell'))
    return importlib.import_module('mmcell.benchmark')


benchmark = _import_benchmark()
MODELS = benchmark.models.MODELS
report, worker = benchmark.report, benchmark.worker


def run_worker(name, batches, iters, warmup, sizes=None, bf16='on'):
    """Measure one model in a worker process of its own; return (its rows, its notes).

    Raises:
        WorkerFailed: The worker ended without its rows (killed, or an error).
    """
    cmd = [sys.executable, __file__, '--worker', name, '--iters', str(iters), '--warmup',
           str(warmup), '--batches', *map(str, batches), '--bf16', bf16]
    if sizes:
        cmd += ['--sizes', *map(str, sizes)]
    env = dict(os.environ)
    if MODELS[name].hf:
        if not HF_SIDE.is_dir():
            raise SystemExit(f'error: {HF_SIDE} is missing: run tools/setup_env.sh (it installs '
                             'transformers there for the Hugging Face comparisons)')
        env['PYTHONPATH'] = str(HF_SIDE)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = proc.stdout.splitlines()
    notes = [line[len(worker.NOTE_PREFIX):] for line in lines
             if line.startswith(worker.NOTE_PREFIX)]
    for line in lines:
        if line.startswith(worker.ROWS_PREFIX):
            return json.loads(line[len(worker.ROWS_PREFIX):]), sorted(set(notes))
    if proc.returncode == -signal.SIGKILL:
        raise WorkerFailed(f'the {name} worker was killed (out of memory?)', 'killed')
    raise WorkerFailed(f'the {name} worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}',
                       f'exit {proc.returncode}')


class WorkerFailed(Exception):
    """A worker process ended without its rows; ``short`` says how, for a table cell."""

    def __init__(self, message, short):
        super().__init__(message)
        self.short = short


def scaling(iters, warmup, quick=False):
    """CellViT's images/s and inference memory against batch and input size, plain and converted
    for CPU inference. One process per point, so a point that runs out of memory is a table cell
    saying so; larger batches of that size are skipped."""
    batches, sizes = ([1, 2], [112]) if quick else ([1, 8, 32, 64], [112, 224, 448])
    rows = []
    for name in ('cellvit', 'cellvit-cpu'):
        for size in sizes:
            failed = None
            for batch in batches:
                point = dict(model=name, input=f'{size}x{size}', batch=batch, infer_peak_MiB='n/a')
                if failed:
                    rows.append({**point, 'fp32_img_s': f'n/a (batch {failed} failed)'})
                    continue
                print(f'  {name} {size}x{size} batch {batch} ...', flush=True)
                try:
                    rows += run_worker(name, [batch], iters, warmup, sizes=[size])[0]
                except WorkerFailed as err:
                    print(f'  NOTE {err}', flush=True)
                    failed = batch
                    rows.append({**point, 'fp32_img_s': f'n/a ({err.short})'})
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', choices=list(MODELS), default=list(MODELS))
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 32],
                        help='classification batch sizes (default 1 32)')
    parser.add_argument('--det-batches', type=int, nargs='+', default=[1, 4],
                        help='detection batch sizes at 640x480 (default 1 4: a batch of 32 '
                        'fields needs more memory and minutes per step than this machine has)')
    parser.add_argument('--iters', type=int, default=5, help='timed iterations per figure')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--scaling', action='store_true',
                        help='also CellViT images/s and memory against batch and input size, '
                        'plain and converted for CPU inference')
    parser.add_argument('--bf16', choices=['auto', 'on', 'off'], default='auto',
                        help='measure bf16 inference: auto (default) only on CPUs with bf16 '
                        'instructions (AVX-512-BF16 or AMX); elsewhere torch emulates bf16 and a '
                        'batch of 32 takes minutes per model')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: batch 1 and 2, one iteration, small scaling table')
    parser.add_argument('--smear-run', nargs='+', metavar='FIELDS',
                        help='also time tools/infer.py on these field images (or folders)')
    parser.add_argument('--smear-fields', type=int,
                        help='the first N of the --smear-run images (sorted)')
    parser.add_argument('--smear-detector', nargs=3, action='append', default=[],
                        metavar=('NAME', 'CONFIG', 'CHECKPOINT'),
                        help='a detector for --smear-run (repeat it to compare)')
    parser.add_argument('--smear-classifier', nargs=2, metavar=('CONFIG', 'CHECKPOINT'),
                        help='the white-cell classifier of every --smear-run pipeline')
    parser.add_argument('--out-dir', default='work_dirs/benchmark')
    parser.add_argument('--worker', choices=list(MODELS), help=argparse.SUPPRESS)
    parser.add_argument('--sizes', type=int, nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.det_batches, args.iters, args.warmup = [1, 2], [1], 1, 0
    if args.smear_run and not (args.smear_detector and args.smear_classifier):
        parser.error('--smear-run needs at least one --smear-detector and the '
                     '--smear-classifier')
    return args


def smear_fields(items, limit=None):
    """The field images of ``--smear-run``: files as given, folders' images sorted."""
    paths = []
    for item in map(Path, items):
        if item.is_dir():
            paths += sorted(p for p in item.iterdir()
                            if p.suffix.lower() in ('.jpg', '.jpeg', '.png', '.bmp', '.tif'))
        elif item.is_file():
            paths.append(item)
        else:
            raise SystemExit(f'error: --smear-run: {item} does not exist')
    return paths[:limit]


def smear_runs(args, out_dir):
    """Time ``tools/infer.py`` once per ``--smear-detector``; write and print the table."""
    fields = smear_fields(args.smear_run, args.smear_fields)
    rows = []
    for name, config, checkpoint in args.smear_detector:
        print(f'  smear run, {name}: {len(fields)} fields ...', flush=True)
        rows.append(benchmark.smear_run.time_smear_run(
            name, fields, (config, checkpoint), tuple(args.smear_classifier),
            out_dir / 'smear_run' / name))
    report.write_table(rows, benchmark.smear_run.SMEAR_COLUMNS, out_dir, 'smear_run')
    first = rows[0]
    for row in rows[1:]:
        print(f"  {first['pipeline']} over {row['pipeline']}: the run "
              f"{row['run_s'] / first['run_s']:.2f}x, detection "
              f"{row['detection_s_field'] / first['detection_s_field']:.2f}x faster")


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker.run(args.worker, args.batches, args.iters, args.warmup, args.sizes,
                          args.bf16)
    out_dir = Path(args.out_dir)
    print(f'Benchmark on {report.describe_cpu()}; medians of {args.iters} timed iterations after '
          f'{args.warmup} warm-up')
    bf16 = args.bf16
    if bf16 == 'auto':
        bf16 = 'on' if report.has_bf16_instructions() else 'off'
    rows, notes = [], []
    if bf16 == 'off':
        notes.append('bf16 (every model): ' + (
            '--bf16 off' if args.bf16 == 'off' else
            'this CPU has no bf16 instructions, torch would emulate them (a 1024x1024 matmul '
            'runs about 70x slower than fp32); --bf16 on measures it anyway'))
    for name in args.models:
        batches = args.det_batches if MODELS[name].task == 'det' else args.batches
        print(f'  {name} (batch {", ".join(map(str, batches))}) ...', flush=True)
        try:
            model_rows, model_notes = run_worker(name, batches, args.iters, args.warmup,
                                                 bf16=bf16)
        except WorkerFailed as err:
            raise SystemExit(f'error: {err}')
        rows += model_rows
        notes += model_notes
    report.write_table(rows, report.COLUMNS, out_dir, 'benchmark')
    if notes:
        print('Not measured:\n' + '\n'.join(f'  {note}' for note in notes) + '\n')
    print('Goals:\n' + '\n'.join(report.goals(rows, max(args.batches), min(args.det_batches))))
    if args.scaling:
        print('Scaling:', flush=True)
        report.write_table(scaling(args.iters, args.warmup, args.quick),
                           report.SCALING_COLUMNS, out_dir, 'scaling')
    if args.smear_run:
        print('Smear runs (tools/infer.py):', flush=True)
        smear_runs(args, out_dir)


if __name__ == '__main__':
    main()
