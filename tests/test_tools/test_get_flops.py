"""tools/analysis_tools/get_flops.py counts what the papers count."""
import pytest
import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config

from mmcell.apis import build_model

from ..conftest import ROOT, load_tool, run_tool

TOOL = 'tools/analysis_tools/get_flops.py'


def test_cvt13_matches_the_published_complexity():
    """CvT-13 (Wu et al. 2021, Table 2): 20M parameters, 4.5G FLOPs at 224."""
    model = build_model(ROOT / 'configs' / 'cellvit' / 'cellvit_munich_cls-head.py',
                        init_weights=False)
    params, flops, by_module = load_tool(TOOL).complexity(model, (3, 224, 224))
    assert 19.5e6 < params < 19.7e6
    assert 4.5e9 < flops < 4.65e9
    assert by_module['backbone'] > 0.99 * flops


def test_attention_flops_are_counted_exactly():
    """The SDPA handle adds Q K^T and A V of one attention layer: 2 * N * Nk * C."""
    tool = load_tool(TOOL)
    model = build_model(Config(dict(default_scope='mmpretrain', model=dict(
        type='ImageClassifier',
        backbone=dict(type='ConvTokenViT', arch=dict(
            embed_dims=[64], num_heads=[2], depths=[1], patch_sizes=[4], strides=[4],
            paddings=[0]), out_type='avg_featmap'),
        head=dict(type='LinearClsHead', num_classes=2, in_channels=64)))), init_weights=False)
    inputs = torch.randn(1, 3, 32, 32)
    without = FlopAnalyzer(tool.TensorMode(model), inputs)
    without.unsupported_ops_warnings(False)
    _, flops, _ = tool.complexity(model, (3, 32, 32))
    n, nk, c = 1 + 64, 1 + 16, 64  # 8x8 tokens + CLS; keys on the 4x4 grid (stride 2) + CLS
    assert flops - without.total() == 2 * n * nk * c


@pytest.mark.subprocess
def test_cli_prints_the_figures():
    proc = run_tool(TOOL, 'configs/cellvit_munich.py')
    assert 'parameters: 19.60 M' in proc.stdout and 'FLOPs:      4.28 G' in proc.stdout


@pytest.mark.subprocess
def test_cli_counts_a_two_stage_detector():
    """Detectors need image metas in tensor mode; every part of Faster R-CNN is counted."""
    proc = run_tool(TOOL, 'configs/cs_arfpn/faster_rcnn_r50_fpn_bccd.py', '--shape', '240', '320')
    # With MMCELL_DATA set (as in CI) mmengine logs the substitution first; the report follows.
    header = 'configs/cs_arfpn/faster_rcnn_r50_fpn_bccd.py at 240x320:\n'
    assert header in proc.stdout
    report = proc.stdout[proc.stdout.index(header) + len(header):]
    lines = dict(line.split()[:2] for line in report.splitlines() if line.strip())
    assert lines['parameters:'] == '41.36'  # mmdet's Faster R-CNN R50-FPN, BCCD's 3 classes
    # ResNet-50 is 4.1 G at 224x224; 240x320 has 1.53x the pixels.
    assert 6.2 < float(lines['backbone']) < 6.5
    assert all(float(lines[part]) > 1 for part in ('neck', 'rpn_head', 'roi_head'))
