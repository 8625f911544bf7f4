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

Examples:
    python tools/analysis_tools/benchmark.py                    # all models, batch 1 and 32
    python tools/analysis_tools/benchmark.py --models cellvit hf-cvt-13 --scaling
    python tools/analysis_tools/benchmark.py --quick            # a smoke run (CI)
"""
import argparse
import csv
import ctypes
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NUM_CLASSES = 10
DEIT_S = dict(type='ImageClassifier',
              backbone=dict(type='VisionTransformer', arch='deit-small', img_size=224,
                            patch_size=16),
              neck=None, head=dict(type='VisionTransformerClsHead', num_classes=NUM_CLASSES,
                                   in_channels=384))
# name: task ('cls' at 224x224, 'det' at 640x480) and where the model comes from.
MODELS = {
    'cellvit': dict(task='cls', config='configs/cellvit_munich.py'),
    'cellvit-cls-head': dict(task='cls', config='configs/cellvit_munich_cls-head.py'),
    # CellViT with TransFG's attention bookkeeping, for the memory comparison of --scaling only.
    'cellvit-full-maps': dict(task='cls', config='configs/cellvit_munich.py', full_maps=True,
                              scaling_only=True),
    'hf-cvt-13': dict(task='cls', hf=True),
    'deit-s': dict(task='cls', model=DEIT_S),
    'swin-t': dict(task='cls', config='configs/baselines/swin-t_munich.py'),
    'vit-b16': dict(task='cls', config='configs/baselines/vit-b16_munich.py'),
    'resnet50': dict(task='cls', config='configs/baselines/resnet50_munich.py'),
    'cs-arfpn-r50': dict(task='det', config='configs/cs_arfpn_r50_bccd.py'),
    'faster-rcnn-r50-fpn': dict(task='det', config='configs/faster_rcnn_r50_fpn_bccd.py'),
}
COLUMNS = ['model', 'task', 'input', 'batch', 'params_M', 'gmacs', 'fp32_img_s', 'bf16_img_s',
           'train_step_s', 'infer_peak_MiB', 'train_peak_MiB']


class PeakMemory:
    """Resident-set high-water mark of this process during a ``with`` block, above its start
    (taken after glibc's ``malloc_trim`` has returned free heap pages, where libc is glibc)."""

    def __init__(self, interval=0.002):
        self.interval = interval
        self.page = os.sysconf('SC_PAGE_SIZE')
        try:
            self._trim = ctypes.CDLL('libc.so.6').malloc_trim
        except (OSError, AttributeError):
            self._trim = lambda pad: None

    def rss(self):
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


# ----------------------------------------------------------------------------------------------
# Worker: one model in this process.

def build(name):
    """(model, forward(x) -> output, loss(x) -> scalar) for one model."""
    import torch
    import torch.nn.functional as F
    spec = MODELS[name]
    if spec.get('hf'):
        from transformers import CvtConfig, CvtForImageClassification
        model = CvtForImageClassification(CvtConfig(num_labels=NUM_CLASSES))  # CvT-13's sizes

        def forward(x):
            return model(pixel_values=x).logits
    else:
        from mmengine.config import Config
        from mmengine.registry import DefaultScope

        import mmcell  # noqa: F401 (registers)
        scope = 'mmdet' if spec['task'] == 'det' else 'mmpretrain'
        cfg = spec.get('model') or Config.fromfile(str(ROOT / spec['config'])).model
        registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
        with DefaultScope.overwrite_default_scope(scope):
            model = registry.build(cfg)
        model.init_weights()  # each model's own initialisation, which training starts from
        if spec['task'] == 'det':
            return (model, *detector_steps(model))
        kept_maps = keep_full_attention_maps(model) if spec.get('full_maps') else []

        def forward(x):
            kept_maps.clear()
            return model(x, mode='tensor')

    def loss(x):
        labels = torch.arange(x.size(0)) % NUM_CLASSES
        return F.cross_entropy(forward(x).float(), labels)
    return model, forward, loss


def keep_full_attention_maps(model):
    """Make every attention layer of a ConvTokenViT work as TransFG's does: form the full
    (B, heads, N, N_kv) probability map, keep it for the part selection (TransFG returns every
    layer's map) and read the CLS rows from it. Memory then grows as O(L * H * N * N_kv) where
    mmcell's CLS-row attention needs O(L * H * N_kv). Returns the list the maps are kept in."""
    import types

    from mmcell.models.layers.conv_attention import ConvProjectionAttention
    kept = []

    def attend(self, x, hw, num_extra_tokens=0, return_cls_attention=False):
        cls, patches = x[:, :num_extra_tokens], x[:, num_extra_tokens:]
        cls = cls if num_extra_tokens else None
        q, _ = self._project(self.conv_q, self.q, patches, cls, hw)
        k, key_grid = self._project(self.conv_k, self.k, patches, cls, hw)
        v, _ = self._project(self.conv_v, self.v, patches, cls, hw)
        attention = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        kept.append(attention)
        out = self.proj_drop(self.proj((attention @ v).transpose(1, 2).flatten(2)))
        return (out, attention[:, :, 0], key_grid) if return_cls_attention else out

    for module in model.modules():
        if isinstance(module, ConvProjectionAttention):
            module.forward = types.MethodType(attend, module)
    return kept


def detector_steps(model):
    """Inference and loss on already-normalised 640x480 batches with 30 random boxes each.

    Both detectors' RoI heads get the same proposals: each RPN runs as usual, then its boxes are
    swapped for one fixed set of as many cell-sized boxes. RoIAlign's cost grows with the size of
    the boxes it pools (adaptive sampling), and untrained RPNs propose boxes of whatever size their
    random weights favour, so without this the RoI workload, not the architecture, decides which
    detector is faster.
    """
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    def boxes(n, h, w, seed=0):
        gen = torch.Generator().manual_seed(seed)
        xy = torch.rand(n, 2, generator=gen) * torch.tensor([w - 80., h - 80.])
        return torch.cat([xy, xy + 20 + torch.rand(n, 2, generator=gen) * 60], 1)

    def samples(x):
        h, w = x.shape[-2:]
        out = []
        for i in range(x.size(0)):
            sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                                 pad_shape=(h, w), batch_input_shape=(h, w),
                                                 scale_factor=(1., 1.)))
            sample.gt_instances = InstanceData(bboxes=boxes(30, h, w, seed=i),
                                               labels=torch.arange(30) % 3)
            out.append(sample)
        return out

    def same_proposals(roi_head_step):
        def step(x, rpn_results_list, batch_data_samples, **kwargs):
            for results, sample in zip(rpn_results_list, batch_data_samples):
                h, w = sample.img_shape
                results.bboxes = boxes(len(results), h, w, seed=1000)
            return roi_head_step(x, rpn_results_list, batch_data_samples, **kwargs)
        return step
    model.roi_head.predict = same_proposals(model.roi_head.predict)
    model.roi_head.loss = same_proposals(model.roi_head.loss)

    def forward(x):
        return model.predict(x, samples(x))

    def loss(x):
        total, _ = model.parse_losses(model.loss(x, samples(x)))
        return total
    return forward, loss


def count_macs(forward, x):
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        forward(x)
    return counter.get_total_flops() / 2 / x.size(0)  # flop_counter counts a multiply-add twice


def median_seconds(step, iters):
    """The median time of ``iters`` calls of ``step``: on a shared machine a few slow calls
    (another process, the allocator returning memory to the OS) move a mean, not a median."""
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(forward, x, iters, warmup, bf16=False):
    """Images/s (from the median iteration) and the peak memory of inference."""
    import torch
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        with PeakMemory() as memory:
            for _ in range(warmup):
                forward(x)
            seconds = median_seconds(lambda: forward(x), iters)
    return x.size(0) / seconds, memory.mib


def train_step(model, loss, x, iters, warmup):
    """Seconds per training step (SGD, the median step) and the peak memory of one."""
    import torch
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss(x).backward()
        optimizer.step()
    with PeakMemory() as memory:
        for _ in range(warmup):
            step()
        seconds = median_seconds(step, iters)
    model.eval()
    return seconds, memory.mib


def measure(name, batches, iters, warmup, shape=None, train=True, bf16=True):
    """Rows of the benchmark table for one model (run in the worker process)."""
    import torch
    torch.manual_seed(0)
    spec = MODELS[name]
    shape = shape or ((480, 640) if spec['task'] == 'det' else (224, 224))
    model, forward, loss = build(name)
    model.eval()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    macs = count_macs(forward, torch.randn(1, 3, *shape)) / 1e9
    rows = []
    for batch in batches:
        x = torch.randn(batch, 3, *shape)
        row = dict(model=name, task=spec['task'], input=f'{shape[1]}x{shape[0]}', batch=batch,
                   params_M=round(params, 2), gmacs=round(macs, 2))
        row['fp32_img_s'], row['infer_peak_MiB'] = throughput(forward, x, iters, warmup)
        row['bf16_img_s'] = (_try(f'{name} bf16', lambda: throughput(forward, x, iters, warmup,
                                                                     bf16=True)[0])
                             if bf16 else 'n/a')
        if train:
            row['train_step_s'], row['train_peak_MiB'] = train_step(model, loss, x, iters,
                                                                    warmup)
        rows.append({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
    return rows


def _try(what, fn):
    """``fn()``, or 'n/a' in the table and the reason on a NOTE line (e.g. an op without a bf16
    CPU kernel)."""
    try:
        return fn()
    except Exception as err:
        where = traceback.extract_tb(err.__traceback__)[-1]
        print(f'NOTE {what}: {type(err).__name__}: {str(err).splitlines()[0]} '
              f'({Path(where.filename).name}:{where.lineno})', flush=True)
        return f'n/a ({type(err).__name__})'


def worker(args):
    if args.sizes:
        rows = [row for size in args.sizes for row in measure(
            args.worker, args.batches, args.iters, args.warmup, shape=(size, size),
            train=False, bf16=False)]
    else:
        rows = measure(args.worker, args.batches, args.iters, args.warmup,
                       bf16=args.bf16 == 'on')
    print('BENCHMARK-ROWS ' + json.dumps(rows), flush=True)


# ----------------------------------------------------------------------------------------------
# Driver: one worker process per model.

def run_worker(name, batches, iters, warmup, sizes=None, bf16='on'):
    cmd = [sys.executable, __file__, '--worker', name, '--iters', str(iters), '--warmup',
           str(warmup), '--batches', *map(str, batches), '--bf16', bf16]
    if sizes:
        cmd += ['--sizes', *map(str, sizes)]
    env = dict(os.environ)
    if MODELS[name].get('hf'):
        side = Path(os.environ.get('MMCELL_VENV', ROOT / '.venv'), 'hf-parity')
        if not side.is_dir():
            raise SystemExit(f'error: {side} is missing: run tools/setup_env.sh (it installs '
                             'transformers there for the Hugging Face comparisons)')
        env['PYTHONPATH'] = str(side)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    notes = [line[len('NOTE '):] for line in proc.stdout.splitlines() if line.startswith('NOTE ')]
    for line in proc.stdout.splitlines():
        if line.startswith('BENCHMARK-ROWS '):
            return json.loads(line[len('BENCHMARK-ROWS '):]), sorted(set(notes))
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
    """CellViT's images/s and inference memory against batch and input size, next to CellViT
    keeping full attention maps. One process per point, so a point that runs out of memory (full
    maps at large inputs) is a table cell saying so; larger batches of that size are skipped."""
    batches, sizes = ([1, 2], [112]) if quick else ([1, 8, 32, 64], [112, 224, 448])
    rows = []
    for name in ('cellvit', 'cellvit-full-maps'):
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


def write_table(rows, columns, out_dir, stem):
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / f'{stem}.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, columns, extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)
    (out_dir / f'{stem}.json').write_text(json.dumps(rows, indent=1))
    widths = {c: max(len(c), *(len(str(r.get(c, ''))) for r in rows)) for c in columns}
    print('  '.join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print('  '.join(str(row.get(c, '')).ljust(widths[c]) for c in columns))
    print(f'wrote {out_dir / stem}.csv and .json\n')


def goals(rows, batch, det_batch):
    """The performance goals as measured in this run, one line each."""
    def value(name, key, at):
        for row in rows:
            if row['model'] == name and row['batch'] == at and isinstance(row[key], float):
                return row[key]

    def over(a, b):
        return a / b if a and b else None
    checks = [  # text, measured ratio, goal, the goal is a minimum (else a maximum)
        (f'ConvTokenViT-13 (CLS head) over HF CvT-13, fp32 images/s at batch {batch}',
         over(value('cellvit-cls-head', 'fp32_img_s', batch),
              value('hf-cvt-13', 'fp32_img_s', batch)), 1.2, True),
        (f'CellViT bf16 over fp32 images/s at batch {batch}',
         over(value('cellvit', 'bf16_img_s', batch), value('cellvit', 'fp32_img_s', batch)),
         2.5, True),
        (f'CellViT (sparse attention head) over the CLS head, inference time at batch {batch}',
         over(value('cellvit-cls-head', 'fp32_img_s', batch),
              value('cellvit', 'fp32_img_s', batch)), 1.05, False),
        (f'CS-ARFPN R50 over stock Faster R-CNN R50-FPN, latency at batch {det_batch}',
         over(value('faster-rcnn-r50-fpn', 'fp32_img_s', det_batch),
              value('cs-arfpn-r50', 'fp32_img_s', det_batch)), 1.15, False),
    ]
    lines = []
    for text, measured, goal, minimum in checks:
        if measured is None:
            lines.append(f'  {text}: not measured in this run')
            continue
        met = measured >= goal if minimum else measured <= goal
        lines.append(f"  {text}: {measured:.2f} (goal {'>=' if minimum else '<='} {goal}: "
                     f"{'met' if met else 'MISSED'})")
    return lines


def cpu_flags():
    """The CPU model name and its feature flags, from /proc/cpuinfo."""
    model, flags = 'unknown CPU', set()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            key, _, value = line.partition(':')
            if key.strip() == 'model name':
                model = value.strip()
            elif key.strip() == 'flags':
                flags = set(value.split())
    except OSError:
        pass
    return model, flags


BF16_FLAGS = {'avx512_bf16', 'amx_bf16'}


def has_bf16_instructions():
    return bool(BF16_FLAGS & cpu_flags()[1])


def describe_cpu():
    """The CPU model and the vector extensions that decide bf16 speed."""
    model, flags = cpu_flags()
    found = [f for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16') if f in flags]
    bf16 = ('bf16 in hardware' if BF16_FLAGS & flags else
            'no bf16 instructions: bf16 runs emulated')
    return f"{model}, {os.cpu_count()} cores, {' '.join(found) or 'no AVX'} ({bf16})"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', choices=list(MODELS),
                        default=[name for name, spec in MODELS.items()
                                 if not spec.get('scaling_only')])
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 32],
                        help='classification batch sizes (default 1 32)')
    parser.add_argument('--det-batches', type=int, nargs='+', default=[1, 4],
                        help='detection batch sizes at 640x480 (default 1 4: a batch of 32 '
                        'fields needs more memory and minutes per step than this machine has)')
    parser.add_argument('--iters', type=int, default=5, help='timed iterations per figure')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--scaling', action='store_true',
                        help='also CellViT images/s and memory against batch and input size, '
                        'next to CellViT keeping full attention maps (as TransFG does)')
    parser.add_argument('--bf16', choices=['auto', 'on', 'off'], default='auto',
                        help='measure bf16 inference: auto (default) only on CPUs with bf16 '
                        'instructions (AVX-512-BF16 or AMX); elsewhere torch emulates bf16 and a '
                        'batch of 32 takes minutes per model')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: batch 1 and 2, one iteration, small scaling table')
    parser.add_argument('--out-dir', default='work_dirs/benchmark')
    parser.add_argument('--worker', choices=list(MODELS), help=argparse.SUPPRESS)
    parser.add_argument('--sizes', type=int, nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.det_batches, args.iters, args.warmup = [1, 2], [1], 1, 0
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    out_dir = Path(args.out_dir)
    print(f'Benchmark on {describe_cpu()}; medians of {args.iters} timed iterations after '
          f'{args.warmup} warm-up')
    bf16 = args.bf16
    if bf16 == 'auto':
        bf16 = 'on' if has_bf16_instructions() else 'off'
    rows, notes = [], []
    if bf16 == 'off':
        notes.append('bf16 (every model): ' + (
            '--bf16 off' if args.bf16 == 'off' else
            'this CPU has no bf16 instructions, torch would emulate them (a 1024x1024 matmul '
            'runs about 70x slower than fp32); --bf16 on measures it anyway'))
    for name in args.models:
        batches = args.det_batches if MODELS[name]['task'] == 'det' else args.batches
        print(f'  {name} (batch {", ".join(map(str, batches))}) ...', flush=True)
        try:
            model_rows, model_notes = run_worker(name, batches, args.iters, args.warmup,
                                                 bf16=bf16)
        except WorkerFailed as err:
            raise SystemExit(f'error: {err}')
        rows += model_rows
        notes += model_notes
    write_table(rows, COLUMNS, out_dir, 'benchmark')
    if notes:
        print('Not measured:\n' + '\n'.join(f'  {note}' for note in notes) + '\n')
    print('Goals:\n' + '\n'.join(goals(rows, max(args.batches), min(args.det_batches))))
    if args.scaling:
        print('Scaling:', flush=True)
        write_table(scaling(args.iters, args.warmup, args.quick),
                    ['model', 'input', 'batch', 'gmacs', 'fp32_img_s', 'infer_peak_MiB'],
                    out_dir, 'scaling')


if __name__ == '__main__':
    main()
