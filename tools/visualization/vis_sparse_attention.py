"""Draw where CellViT's sparse attention head looked on cell images (Wang et al. 2023, Fig. 3).

For each image: the token picked per attention head, the SE-weighted CLS attention it ranked
tokens by, and the layers' SE weights, saved as ``<out-dir>/<image name>_attention.png``.

Example:
    python tools/visualization/vis_sparse_attention.py configs/cellvit/cellvit_pbc.py epoch_25.pth \
        cells/*.jpg --out-dir work_dirs/vis
"""
import argparse
from pathlib import Path

import mmcv

from mmcell.apis import CellClassificationInferencer
from mmcell.compat import install, quiet_known_warnings
from mmcell.utils import load_config
from mmcell.visualization import draw_sparse_attention, sparse_attention


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a config whose head is SparseAttentionHead')
    parser.add_argument('checkpoint')
    parser.add_argument('images', nargs='+')
    parser.add_argument('--out-dir', default='work_dirs/vis')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    classifier = CellClassificationInferencer(load_config(args.config), args.checkpoint,
                                              device=args.device)
    for path in args.images:
        img = mmcv.imread(path)
        if img is None:
            raise SystemExit(f'error: cannot read {path} as an image')
        out = Path(args.out_dir, f'{Path(path).stem}_attention.png')
        draw_sparse_attention(img, sparse_attention(classifier, img), str(out))
        print(f'wrote {out}')


if __name__ == '__main__':
    main()
