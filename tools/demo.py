"""The README's first command: show mmcell working end to end on data that needs no download.

Writes synthetic single-cell crops (mmcell.datasets.write_cell_crops) unless they are there,
trains CellViT (ConvTokenViT + SparseAttentionHead) with tools/train.py, and evaluates its last checkpoint with
tools/test.py. Everything goes to work_dirs/.
"""
import argparse
import subprocess
import sys
from pathlib import Path

from mmcell.datasets import write_cell_crops

ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'configs/cellvit_synthetic.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo', help='where runs are written')
    parser.add_argument('--data-root', default='work_dirs/data/synthetic_cells',
                        help='where the synthetic crops are written (and reused)')
    parser.add_argument('--per-class', type=int, default=40,
                        help='training images per class (validation: a quarter)')
    return parser.parse_args()


def run(*cmd):
    print('+', ' '.join(cmd), flush=True)
    subprocess.run([sys.executable, *cmd], cwd=ROOT, check=True)


def main():
    args = parse_args()
    data_root = ROOT / args.data_root
    if (data_root / 'val').is_dir():
        print(f'Data: synthetic single-cell crops, reused from {data_root}')
    else:
        print(f'Data: writing synthetic single-cell crops to {data_root} (seeded, no download)')
        write_cell_crops(data_root / 'train', args.per_class, seed=0)
        write_cell_crops(data_root / 'val', max(1, args.per_class // 4), seed=1)

    work_dir = f'{args.work_dir}/cellvit_synthetic'
    options = ['--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
               f'val_dataloader.dataset.data_root={data_root}',
               f'test_dataloader.dataset.data_root={data_root}']
    run('tools/train.py', CONFIG, '--work-dir', work_dir, *options)
    checkpoint = (ROOT / work_dir / 'last_checkpoint').read_text().strip()
    run('tools/test.py', CONFIG, checkpoint, '--work-dir', work_dir, *options)
    print(f'Done: synthetic data; logs, checkpoints and metrics are in {work_dir}')


if __name__ == '__main__':
    main()
