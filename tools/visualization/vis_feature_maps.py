"""Draw a detector's backbone (C2-C4) and FPN (P2-P4) feature maps over an image (Song et al.
2021, Fig. 7), saved as ``<out-dir>/<image name>_features.png``.

Example:
    python tools/visualization/vis_feature_maps.py configs/cs_arfpn_r50_bccd.py epoch_12.pth \
        smear.jpg --levels C2 C3 C4 P2 P3 P4
"""
import argparse
from pathlib import Path

import mmcv
from mmdet.apis import DetInferencer

from mmcell.compat import install, quiet_known_warnings
from mmcell.utils import load_config
from mmcell.visualization import detector_feature_maps, draw_feature_maps


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', nargs='+')
    parser.add_argument('--levels', nargs='+', default=['C2', 'C3', 'C4', 'P2', 'P3', 'P4'])
    parser.add_argument('--out-dir', default='work_dirs/vis')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    detector = DetInferencer(load_config(args.config), args.checkpoint, device=args.device,
                             show_progress=False)
    for path in args.images:
        img = mmcv.imread(path)
        if img is None:
            raise SystemExit(f'error: cannot read {path} as an image')
        out = Path(args.out_dir, f'{Path(path).stem}_features.png')
        draw_feature_maps(img, detector_feature_maps(detector, img), str(out), args.levels)
        print(f'wrote {out}')


if __name__ == '__main__':
    main()
