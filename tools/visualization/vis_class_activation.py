"""Draw where a pooled-feature classifier (e.g. EfficientNet-Lite) looked on cell images.

For each image: the image and the class activation map of its predicted class (Zhou et al.
2016; :mod:`mmcell.visualization.class_activation`), saved as ``<out-dir>/<image name>_cam.png``.
For CellViT's sparse attention head use ``vis_sparse_attention.py``.

Example:
    python tools/visualization/vis_class_activation.py \\
        configs/efficientnet_lite/efficientnet-lite0_pbc.py epoch_6.pth cells/*.jpg --out-dir work_dirs/vis
"""
import argparse
from pathlib import Path

import mmcv

from mmcell.apis import CellClassificationInferencer
from mmcell.compat import install, quiet_known_warnings
from mmcell.utils import load_config
from mmcell.visualization import class_activation, draw_class_activation


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a config with GlobalAveragePooling and a linear head')
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
        try:
            view = class_activation(classifier, img)
        except TypeError as err:
            raise SystemExit(f'error: {args.config}: {err}')
        out = Path(args.out_dir, f'{Path(path).stem}_cam.png')
        draw_class_activation(img, view, str(out))
        print(f'wrote {out}')


if __name__ == '__main__':
    main()
