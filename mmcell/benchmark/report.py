"""The benchmark's report: its tables (printed, and written as CSV and JSON), the performance
goals as measured, and what this CPU is (its bf16 instructions decide whether bf16 is timed)."""
import csv
import json
import os
from pathlib import Path
from typing import List, Optional, Sequence, Set, Tuple

__all__ = ['BF16_FLAGS', 'COLUMNS', 'SCALING_COLUMNS', 'cpu_flags', 'describe_cpu', 'goals',
           'has_bf16_instructions', 'write_table']

COLUMNS = ['model', 'task', 'input', 'batch', 'params_M', 'gmacs', 'fp32_img_s', 'bf16_img_s',
           'train_step_s', 'bf16_train_step_s', 'infer_peak_MiB', 'train_peak_MiB']
SCALING_COLUMNS = ['model', 'input', 'batch', 'gmacs', 'fp32_img_s', 'infer_peak_MiB']
BF16_FLAGS = {'avx512_bf16', 'amx_bf16'}


def write_table(rows: List[dict], columns: Sequence[str], out_dir: Path, stem: str) -> None:
    """Write ``rows`` to ``out_dir/stem.csv`` and ``.json`` and print them as a table."""
    out_dir = Path(out_dir)
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


def goals(rows: List[dict], batch: int, det_batch: int) -> List[str]:
    """The performance goals as measured in this run, one line each.

    mmcell's CvT models are read as mmcell's tools run them: converted for CPU inference (the
    ``-cpu`` rows).

    Args:
        rows (list[dict]): The benchmark table.
        batch (int): The classification batch the goals are read at.
        det_batch (int): The detection batch.

    Returns:
        list[str]: ``'  <goal>: <ratio> (goal >= <x>: met|MISSED)'``, or ``not measured in this
        run`` where a model the goal compares was not measured.
    """
    def value(name, key, at):
        for row in rows:
            if row['model'] == name and row['batch'] == at and isinstance(row[key], float):
                return row[key]

    def over(a, b):
        return a / b if a and b else None
    checks = [  # text, measured ratio, goal, the goal is a minimum (else a maximum)
        (f'ConvTokenViT-13 (CLS head, CPU conversion) over HF CvT-13, fp32 images/s at batch '
         f'{batch}', over(value('cellvit-cls-head-cpu', 'fp32_img_s', batch),
                          value('hf-cvt-13', 'fp32_img_s', batch)), 1.2, True),
        (f'ConvTokenViT-13 (CLS head, CPU conversion) over HF CvT-13, bf16 images/s at batch '
         f'{batch}', over(value('cellvit-cls-head-cpu', 'bf16_img_s', batch),
                          value('hf-cvt-13', 'bf16_img_s', batch)), 1.2, True),
        (f'CellViT (CPU conversion) bf16 over fp32 images/s at batch {batch}',
         over(value('cellvit-cpu', 'bf16_img_s', batch),
              value('cellvit-cpu', 'fp32_img_s', batch)), 2.5, True),
        (f'CellViT (sparse attention head) over the CLS head, CPU conversion, inference time at '
         f'batch {batch}', over(value('cellvit-cls-head-cpu', 'fp32_img_s', batch),
                                value('cellvit-cpu', 'fp32_img_s', batch)), 1.05, False),
        (f'CS-ARFPN R50 training step, fp32 over bf16 (RoI ops fp32), at batch {det_batch}',
         over(value('cs-arfpn-r50', 'train_step_s', det_batch),
              value('cs-arfpn-r50', 'bf16_train_step_s', det_batch)), 1.5, True),
        (f'CS-ARFPN R50 over stock Faster R-CNN R50-FPN, latency at batch {det_batch}',
         over(value('faster-rcnn-r50-fpn', 'fp32_img_s', det_batch),
              value('cs-arfpn-r50', 'fp32_img_s', det_batch)), 1.15, False),
        (f'Default detector (Faster R-CNN Lite0-FPN, a field at 480x360) over CS-ARFPN R50 '
         f'(640x480), fp32 fields/s at batch {det_batch}',
         over(value('faster-rcnn-lite0-fpn', 'fp32_img_s', det_batch),
              value('cs-arfpn-r50', 'fp32_img_s', det_batch)), 4.0, True),
        (f'Default classifier (EfficientNet-Lite0, 128x128), fp32 crops/s at batch {batch}',
         value('efficientnet-lite0-128', 'fp32_img_s', batch), 150, True),
        (f'Default classifier (EfficientNet-Lite0, 128x128), bf16 crops/s at batch {batch}',
         value('efficientnet-lite0-128', 'bf16_img_s', batch), 150, True),
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


def cpu_flags() -> Tuple[str, Set[str]]:
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


def has_bf16_instructions(flags: Optional[Set[str]] = None) -> bool:
    """Whether the CPU (or these flags) has bf16 instructions (AVX-512-BF16 or AMX)."""
    return bool(BF16_FLAGS & (cpu_flags()[1] if flags is None else flags))


def describe_cpu() -> str:
    """The CPU model and the vector extensions that decide bf16 speed."""
    model, flags = cpu_flags()
    found = [f for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16') if f in flags]
    bf16 = ('bf16 in hardware' if has_bf16_instructions(flags) else
            'no bf16 instructions: bf16 runs emulated')
    return f"{model}, {os.cpu_count()} cores, {' '.join(found) or 'no AVX'} ({bf16})"
