"""Convert CvT weights to an mmcell ImageClassifier checkpoint (ConvTokenViT + LinearClsHead).

Reads either layout from the weight file itself (no transformers needed):
  * Hugging Face ``microsoft/cvt-13`` / ``cvt-21`` (``model.safetensors`` or ``pytorch_model.bin``;
    a model folder is fine): keys ``cvt.encoder.stages.N...``, ``layernorm``, ``classifier``;
  * the official microsoft/CvT checkpoints (``CvT-13-224x224-IN-1k.pth``): ``stageN...``,
    ``norm``, ``head``.

The result holds ``backbone.*`` (and ``head.fc.*`` when the source has a classifier), for
``load_from`` or ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone')``.
Hugging Face CvT uses GELU (ConvTokenViT's default); the official models use QuickGELU: with
their weights set ``act_cfg=dict(type='mmpretrain.QuickGELU')`` in the backbone.

Example:
    python tools/model_converters/cvt_to_mmcell.py ~/hf/cvt-13 checkpoints/cvt-13_in1k.pth
"""
import argparse
import re
import sys
from pathlib import Path

import torch

from mmcell.compat import load_local_checkpoint

# (source pattern, target) per layout; \1 = stage, \2 = block, \3 = q/k/v, \4 = parameter name.
_HF_RULES = [
    (r'encoder\.stages\.(\d+)\.embedding\.convolution_embeddings\.projection\.(\w+)',
     r'embeds.\1.proj.\2'),
    (r'encoder\.stages\.(\d+)\.embedding\.convolution_embeddings\.normalization\.(\w+)',
     r'embeds.\1.norm.\2'),
    (r'encoder\.stages\.\d+\.cls_token', 'cls_token'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.convolution_projection_'
     r'(query|key|value)\.convolution_projection\.convolution\.(\w+)', r'stages.\1.\2.attn.conv_\3.0.\4'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.convolution_projection_'
     r'(query|key|value)\.convolution_projection\.normalization\.(\w+)',
     r'stages.\1.\2.attn.conv_\3.1.\4'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.attention\.projection_(query|key|value)'
     r'\.(\w+)', r'stages.\1.\2.attn.\3.\4'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.attention\.output\.dense\.(\w+)',
     r'stages.\1.\2.attn.proj.\3'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.intermediate\.dense\.(\w+)', r'stages.\1.\2.mlp.0.\3'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.output\.dense\.(\w+)', r'stages.\1.\2.mlp.3.\3'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.layernorm_before\.(\w+)', r'stages.\1.\2.norm1.\3'),
    (r'encoder\.stages\.(\d+)\.layers\.(\d+)\.layernorm_after\.(\w+)', r'stages.\1.\2.norm2.\3'),
    (r'layernorm\.(\w+)', r'norm.\1'),
    (r'classifier\.(\w+)', r'head.fc.\1'),
]
_OFFICIAL_RULES = [
    (r'stage(\d+)\.patch_embed\.(proj|norm)\.(\w+)', r'embeds.\1.\2.\3'),
    (r'stage\d+\.cls_token', 'cls_token'),
    (r'stage(\d+)\.blocks\.(\d+)\.attn\.conv_proj_([qkv])\.conv\.(\w+)',
     r'stages.\1.\2.attn.conv_\3.0.\4'),
    (r'stage(\d+)\.blocks\.(\d+)\.attn\.conv_proj_([qkv])\.bn\.(\w+)',
     r'stages.\1.\2.attn.conv_\3.1.\4'),
    (r'stage(\d+)\.blocks\.(\d+)\.attn\.proj_([qkv])\.(\w+)', r'stages.\1.\2.attn.\3.\4'),
    (r'stage(\d+)\.blocks\.(\d+)\.attn\.proj\.(\w+)', r'stages.\1.\2.attn.proj.\3'),
    (r'stage(\d+)\.blocks\.(\d+)\.mlp\.fc1\.(\w+)', r'stages.\1.\2.mlp.0.\3'),
    (r'stage(\d+)\.blocks\.(\d+)\.mlp\.fc2\.(\w+)', r'stages.\1.\2.mlp.3.\3'),
    (r'stage(\d+)\.blocks\.(\d+)\.(norm[12])\.(\w+)', r'stages.\1.\2.\3.\4'),
    (r'norm\.(\w+)', r'norm.\1'),
    (r'head\.(\w+)', r'head.fc.\1'),
]
_HF_QKV = {'query': 'q', 'key': 'k', 'value': 'v'}


def _rename(key, rules):
    for pattern, target in rules:
        if re.fullmatch(pattern, key):
            name = re.sub(pattern, target, key)
            for long, short in _HF_QKV.items():
                name = name.replace(f'conv_{long}.', f'conv_{short}.')
                name = name.replace(f'attn.{long}.', f'attn.{short}.')
            return name
    return None


def read_weights(path):
    """The state dict in ``path``: a .safetensors/.bin/.pth file or a Hugging Face model folder."""
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in ('model.safetensors', 'pytorch_model.bin') if (path / n).is_file()]
        if not found:
            raise FileNotFoundError(f'{path} has neither model.safetensors nor pytorch_model.bin')
        path = found[0]
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file
        return load_file(str(path))
    checkpoint = load_local_checkpoint(str(path), map_location='cpu')
    for key in ('state_dict', 'model'):  # training checkpoints wrap the weights
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    return checkpoint


def convert(state_dict):
    """Map a Hugging Face or official CvT state dict to mmcell ImageClassifier keys.

    Raises:
        ValueError: The layout is neither, or some keys have no counterpart (all are listed).
    """
    state_dict = {re.sub(r'^(module\.)?(cvt\.)?', '', k): v for k, v in state_dict.items()}
    if any(k.startswith('encoder.stages.') for k in state_dict):
        rules, layout = _HF_RULES, 'Hugging Face'
    elif any(re.match(r'stage\d+\.', k) for k in state_dict):
        rules, layout = _OFFICIAL_RULES, 'official microsoft/CvT'
    else:
        raise ValueError('not a CvT state dict: expected keys starting with encoder.stages. '
                         f'(Hugging Face) or stageN. (official); first keys: {list(state_dict)[:5]}')
    converted, unknown = {}, []
    for key, value in state_dict.items():
        name = _rename(key, rules)
        if name is None:
            unknown.append(key)
        else:
            converted[name if name.startswith('head.') else f'backbone.{name}'] = value
    if unknown:
        raise ValueError(f'{len(unknown)} keys of the {layout} layout have no ConvTokenViT '
                         f'counterpart: {unknown[:10]}')
    return converted, layout


def describe(state_dict):
    """Stages, blocks per stage and embedding dims of a converted state dict."""
    depths, dims = {}, {}
    for key, value in state_dict.items():
        if m := re.match(r'backbone\.stages\.(\d+)\.(\d+)\.', key):
            depths[int(m[1])] = max(depths.get(int(m[1]), 0), int(m[2]) + 1)
        if m := re.match(r'backbone\.embeds\.(\d+)\.proj\.weight', key):
            dims[int(m[1])] = value.shape[0]
    return [depths.get(i, 0) for i in sorted(dims)], [dims[i] for i in sorted(dims)]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='CvT weights: .safetensors, .bin, .pth or a model folder')
    parser.add_argument('dst', help='where to write the mmcell checkpoint (.pth)')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        state_dict, layout = convert(read_weights(args.src))
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'cvt_to_mmcell: {args.src}: {err}')
    depths, dims = describe(state_dict)
    Path(args.dst).parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(meta=dict(converted_from=str(args.src), layout=layout), state_dict=state_dict),
               args.dst)
    head = state_dict.get('head.fc.weight')
    print(f'{layout} weights (depths {depths}, embed_dims {dims}'
          f'{f", {head.shape[0]}-class head" if head is not None else ""}): '
          f'{len(state_dict)} tensors written to {args.dst}')
    if layout.startswith('official'):
        print("note: the official models use QuickGELU; set act_cfg=dict(type='mmpretrain.QuickGELU') "
              'in the ConvTokenViT config')


if __name__ == '__main__':
    main()
