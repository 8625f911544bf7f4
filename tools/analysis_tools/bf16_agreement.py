"""Does bf16 inference predict what fp32 does? Top-1 agreement and speed on a test split.

Every batch of a classification config's test dataloader goes through the model twice with the
same weights: in fp32 and under CPU autocast to bfloat16. Prints how many top-1 predictions
agree, each precision's accuracy against the labels, the largest logit difference, and the
images/s of each (the model's forward only; loading and preprocessing are not timed, nor is
the first batch, which sets up the kernels). The model is converted for CPU inference
(:func:`mmcell.engine.convert_for_cpu_inference`), as mmcell's tools run it. Writes the figures
and every image's two predictions to ``--out`` as JSON.

Where the CPU has no bf16 instructions (AVX-512-BF16 or AMX), torch emulates them and the bf16
pass is many times slower than fp32 (``benchmark.py``'s first line says what this CPU has).

Example:
    MMCELL_DATA=../shared/data python tools/analysis_tools/bf16_agreement.py \\
        configs/cellvit/cellvit_pbc.py work_dirs/pbc/cellvit_pbc/epoch_25.pth
"""
import argparse
import json
import time
from pathlib import Path

import torch
from mmengine.config import DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmcell.apis import build_model
from mmcell.compat import install, quiet_known_warnings
from mmcell.engine import convert_for_cpu_inference
from mmcell.utils import load_classifier_config, track


def forward_both(model, inputs):
    """(fp32 logits, bf16 logits as fp32, fp32 seconds, bf16 seconds) for one batch."""
    out, seconds = [], []
    with torch.no_grad():
        for bf16 in (False, True):
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
                start = time.perf_counter()
                out.append(model(inputs, mode='tensor').float())
                seconds.append(time.perf_counter() - start)
    return (*out, *seconds)


def compare(model, dataloader):
    """Run every test batch in both precisions; return the figures as a dict."""
    model.eval()
    labels, fp32, bf16, diff = [], [], [], 0.
    timed = dict(images=0, fp32=0., bf16=0.)
    for i, batch in enumerate(track(dataloader, description=f'{len(dataloader.dataset)} test '
                                    'images in fp32 and bf16')):
        data = model.data_preprocessor(batch, False)
        logits32, logits16, t32, t16 = forward_both(model, data['inputs'])
        if i > 0:
            timed['images'] += len(logits32)
            timed['fp32'] += t32
            timed['bf16'] += t16
        labels += [int(sample.gt_label[0]) for sample in data['data_samples']]
        fp32 += logits32.argmax(1).tolist()
        bf16 += logits16.argmax(1).tolist()
        diff = max(diff, (logits32 - logits16).abs().max().item())
    num = len(labels)

    def percent(pairs):
        return 100 * sum(a == b for a, b in pairs) / num
    return dict(
        images=num,
        top1_agreement=percent(zip(fp32, bf16)),
        disagreements=sum(a != b for a, b in zip(fp32, bf16)),
        fp32_accuracy=percent(zip(fp32, labels)),
        bf16_accuracy=percent(zip(bf16, labels)),
        max_abs_logit_difference=diff,
        fp32_img_s=timed['images'] / timed['fp32'] if timed['images'] else None,
        bf16_img_s=timed['images'] / timed['bf16'] if timed['images'] else None,
        labels=labels, fp32_top1=fp32, bf16_top1=bf16)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a classification config')
    parser.add_argument('checkpoint', help='its trained weights')
    parser.add_argument('--batch-size', type=int,
                        help="test batch size (default: the config's test_dataloader)")
    parser.add_argument('--out', help='JSON file for the figures and predictions '
                        '(default: work_dirs/bf16_agreement/<config name>.json)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/test.py')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfg = load_classifier_config(args.config, args.cfg_options, 'bf16_agreement.py')
    loader_cfg = cfg.test_dataloader.copy()
    if args.batch_size:
        loader_cfg.batch_size = args.batch_size
    # build_model makes a top-level data_preprocessor the model's, as the Runner does: without
    # it the images would go in un-normalised and every prediction would be wrong.
    model = convert_for_cpu_inference(build_model(cfg, args.checkpoint))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataloader = Runner.build_dataloader(loader_cfg)
        result = compare(model, dataloader)

    print(f'{args.config} ({args.checkpoint}), {result["images"]} test images, batch '
          f'{loader_cfg.batch_size}, {torch.get_num_threads()} threads:')
    print(f'  top-1 agreement bf16 vs fp32: {result["top1_agreement"]:.2f}% '
          f'({result["disagreements"]} of {result["images"]} differ)')
    print(f'  accuracy: fp32 {result["fp32_accuracy"]:.2f}%, bf16 {result["bf16_accuracy"]:.2f}%')
    print(f'  largest |logit difference|: {result["max_abs_logit_difference"]:.4f}')
    if result['fp32_img_s']:
        print(f'  images/s: fp32 {result["fp32_img_s"]:.2f}, bf16 {result["bf16_img_s"]:.2f} '
              f'({result["bf16_img_s"] / result["fp32_img_s"]:.2f}x)')
    out = Path(args.out or Path('work_dirs', 'bf16_agreement',
                                Path(args.config).stem + '.json'))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(config=args.config, checkpoint=args.checkpoint, **result)))
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
