"""Write a Hugging Face CvT with random weights, an input and its outputs, for the parity test.

Runs in the side environment that has transformers (``PYTHONPATH=$MMCELL_VENV/hf-parity``) and
imports nothing from mmcell or mmpretrain. Writes to OUT:
  hf/                the model, as ``save_pretrained`` writes it (model.safetensors, config.json)
  official.pth       the same weights under the official microsoft/CvT key names
  reference.pt       input, cls_token_value, last_hidden_state and logits
"""
import argparse
import re
from pathlib import Path

import torch
from transformers import CvtConfig, CvtForImageClassification

# Hugging Face name -> official microsoft/CvT name (as in the official checkpoints).
OFFICIAL_NAMES = [
    (r'cvt\.encoder\.stages\.(\d+)\.embedding\.convolution_embeddings\.projection\.',
     r'stage\1.patch_embed.proj.'),
    (r'cvt\.encoder\.stages\.(\d+)\.embedding\.convolution_embeddings\.normalization\.',
     r'stage\1.patch_embed.norm.'),
    (r'cvt\.encoder\.stages\.(\d+)\.cls_token', r'stage\1.cls_token'),
    (r'cvt\.encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'convolution_projection_(.)\w+\.convolution_projection\.convolution\.',
     r'stage\1.blocks.\2.attn.conv_proj_\3.conv.'),
    (r'cvt\.encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.'
     r'convolution_projection_(.)\w+\.convolution_projection\.normalization\.',
     r'stage\1.blocks.\2.attn.conv_proj_\3.bn.'),
    (r'cvt\.encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.projection_(.)\w+\.',
     r'stage\1.blocks.\2.attn.proj_\3.'),
    (r'cvt\.encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.output\.dense\.',
     r'stage\1.blocks.\2.attn.proj.'),
    (r'cvt\.encoder\.stages\.(\d+)\.layers\.(\d+)\.intermediate\.dense\.', r'stage\1.blocks.\2.mlp.fc1.'),
    (r'cvt\.encoder\.stages\.(\d+)\.layers\.(\d+)\.output\.dense\.', r'stage\1.blocks.\2.mlp.fc2.'),
    (r'cvt\.encoder\.stages\.(\d+)\.layers\.(\d+)\.layernorm_before\.', r'stage\1.blocks.\2.norm1.'),
    (r'cvt\.encoder\.stages\.(\d+)\.layers\.(\d+)\.layernorm_after\.', r'stage\1.blocks.\2.norm2.'),
    (r'layernorm\.', 'norm.'),
    (r'classifier\.', 'head.'),
]


def official_name(key):
    for pattern, target in OFFICIAL_NAMES:
        if re.match(pattern, key):
            return re.sub(pattern, target, key)
    raise KeyError(key)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('out')
    parser.add_argument('--depth', type=int, nargs=3, default=[1, 2, 10])
    parser.add_argument('--num-labels', type=int, default=5)
    parser.add_argument('--size', type=int, default=224)
    args = parser.parse_args()
    out = Path(args.out)

    torch.manual_seed(0)
    model = CvtForImageClassification(CvtConfig(depth=args.depth, num_labels=args.num_labels))
    # Random values everywhere (the default init leaves norms at 1/0 and BN statistics at 0/1,
    # which would hide a swapped or missing norm).
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5 if name.endswith(('running_var', 'weight'))
                             and tensor.dim() == 1 else torch.randn_like(tensor) * 0.1)
    model.eval()
    model.save_pretrained(out / 'hf')
    torch.save({official_name(k): v for k, v in model.state_dict().items()}, out / 'official.pth')

    inputs = torch.randn(2, 3, args.size, args.size)
    with torch.no_grad():
        outputs = model.cvt(inputs)
        logits = model(inputs).logits
    torch.save(dict(inputs=inputs, cls_token=outputs.cls_token_value[:, 0],
                    featmap=outputs.last_hidden_state, logits=logits), out / 'reference.pt')


if __name__ == '__main__':
    main()
