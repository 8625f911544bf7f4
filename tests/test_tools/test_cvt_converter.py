"""tools/model_converters/cvt_to_mmcell.py against Hugging Face's CvtModel.

transformers breaks ``import mmpretrain.models``, so the reference model is built in a separate
process with the side folder that tools/setup_env.sh fills (``$MMCELL_VENV/hf-parity``) on its
path; this process only reads the files it writes.
"""
import os
import subprocess
import sys

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS

import mmcell  # noqa: F401  (registers ConvTokenViT)

from ..conftest import ROOT, load_tool, run_tool

HF_PARITY = os.path.join(os.environ.get('MMCELL_VENV', ROOT / '.venv'), 'hf-parity')
CONVERTER = 'tools/model_converters/cvt_to_mmcell.py'


def hf_reference(out, depth, size):
    if not os.path.isdir(os.path.join(HF_PARITY, 'transformers')):
        pytest.fail(f'{HF_PARITY} has no transformers: run tools/setup_env.sh (make env)')
    env = dict(os.environ, PYTHONPATH=HF_PARITY)
    subprocess.run([sys.executable, 'tests/hf_parity/cvt_reference.py', str(out), '--depth',
                    *map(str, depth), '--size', str(size)], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    return torch.load(out / 'reference.pt')


def build(arch, **backbone):
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ConvTokenViT', arch=arch, drop_path_rate=0., **backbone),
        head=dict(type='LinearClsHead', num_classes=5, in_channels=384))).eval()


@pytest.fixture(scope='module', params=[('cvt-13', [1, 2, 10], 224), ('cvt-21', [1, 4, 16], 160)],
                ids=['cvt-13', 'cvt-21'])
def reference(request, tmp_path_factory):
    arch, depth, size = request.param
    out = tmp_path_factory.mktemp(arch)
    return arch, out, hf_reference(out, depth, size)


@pytest.mark.subprocess
def test_cli_writes_a_checkpoint_that_loads_strictly(tmp_path, reference):
    arch, out, ref = reference
    converted = tmp_path / 'converted.pth'
    proc = run_tool(CONVERTER, out / 'hf', converted)
    assert str(converted) in proc.stdout
    model = build(arch)
    load_checkpoint(model, str(converted), strict=True, logger='silent')
    with torch.no_grad():
        torch.testing.assert_close(model(ref['inputs'], mode='tensor'), ref['logits'],
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('source', ['hf/model.safetensors', 'official.pth'])
def test_converted_weights_reproduce_hugging_face_features(reference, source):
    """Before the final norm: CvtModel's CLS token and patch-token map."""
    arch, out, ref = reference
    tool = load_tool(CONVERTER)
    state, _ = tool.convert(tool.read_weights(out / source))
    backbone_state = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    for out_type, expected in (('cls_token', ref['cls_token']), ('featmap', ref['featmap'])):
        backbone = build(arch, out_type=out_type, final_norm=False).backbone
        missing, unexpected = backbone.load_state_dict(backbone_state, strict=False)
        assert missing == [] and sorted(unexpected) == ['norm.bias', 'norm.weight']
        with torch.no_grad():
            feat = backbone(ref['inputs'])[-1]
        # 21 blocks of float32 with random weights: a few elements differ by ~1e-4 (a wrong
        # mapping differs by ~1).
        torch.testing.assert_close(feat, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.subprocess
def test_official_weights_get_the_quick_gelu_note(tmp_path, reference):
    _, out, _ = reference
    proc = run_tool(CONVERTER, out / 'official.pth', tmp_path / 'converted.pth')
    assert "act_cfg=dict(type='mmpretrain.QuickGELU')" in proc.stdout


@pytest.mark.subprocess
def test_not_a_cvt_checkpoint_is_named_with_its_keys(tmp_path):
    path = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(1)}, path)
    proc = run_tool(CONVERTER, path, tmp_path / 'out.pth', check=False)
    assert proc.returncode != 0
    assert str(path) in proc.stderr and 'not a CvT state dict' in proc.stderr
    assert 'conv1.weight' in proc.stderr
    assert not (tmp_path / 'out.pth').exists()


@pytest.mark.subprocess
def test_unknown_keys_are_listed(tmp_path):
    path = tmp_path / 'extra.pth'
    torch.save({'stage0.patch_embed.proj.weight': torch.zeros(1), 'stage0.extra.w': torch.zeros(1)},
               path)
    proc = run_tool(CONVERTER, path, tmp_path / 'out.pth', check=False)
    assert proc.returncode != 0 and 'stage0.extra.w' in proc.stderr


@pytest.mark.subprocess
def test_malicious_pickle_is_refused(tmp_path, evil_checkpoint):
    path, marker = evil_checkpoint
    proc = run_tool(CONVERTER, path, tmp_path / 'out.pth', check=False)
    assert proc.returncode != 0
    assert f'refused to load checkpoint {path}' in proc.stderr
    assert not marker.exists()
