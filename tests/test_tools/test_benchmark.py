"""tools/analysis_tools/benchmark.py in its quick mode: a complete table, not timings."""
import csv
import json
import re

import pytest

from mmcell.benchmark.models import build
from mmcell.benchmark.worker import PeakMemory

from ..conftest import load_tool, run_tool

MODELS = ['cellvit', 'cellvit-cpu', 'cellvit-cls-head', 'cellvit-cls-head-cpu', 'hf-cvt-13',
          'deit-s', 'swin-t', 'vit-b16', 'resnet50', 'efficientnet-lite0', 'efficientnet-lite0-128',
          'cs-arfpn-r50', 'faster-rcnn-r50-fpn', 'faster-rcnn-lite0-fpn']


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.benchmark
def test_quick_benchmark_writes_a_complete_table(tmp_path):
    # bf16 forced on: this CPU may emulate it (slow, but one image per figure here).
    proc = run_tool('tools/analysis_tools/benchmark.py', '--quick', '--scaling', '--bf16', 'on',
                    '--out-dir', tmp_path)
    rows = read(tmp_path / 'benchmark.csv')
    # Classification at batch 1 and 2, detection at batch 1, one process per model.
    assert [(r['model'], r['batch']) for r in rows] == [
        (m, b) for m in MODELS for b in (['1'] if m.endswith(('r50', 'fpn')) else ['1', '2'])]
    for row in rows:
        assert all(row[k] != '' for k in row), row
        converted = row['model'].endswith('-cpu')  # inference only
        for key in ('params_M', 'gmacs', 'fp32_img_s', 'infer_peak_MiB') + (
                () if converted else ('train_step_s', 'train_peak_MiB')):
            assert float(row[key]) >= 0, (row['model'], key)
        if converted:
            assert row['train_step_s'] == row['bf16_train_step_s'] == 'n/a'
        assert float(row['fp32_img_s']) > 0 and float(row['gmacs']) > 0
        if row['task'] == 'det':  # backbone and neck in bf16, the RoI ops in fp32
            assert float(row['bf16_img_s']) > 0 and float(row['bf16_train_step_s']) > 0
        if row['bf16_img_s'].startswith('n/a'):  # and the reason is printed
            assert f"  {row['model']} bf16: " in proc.stdout.split('Not measured:')[1]
    inputs = {r['model']: r['input'] for r in rows}
    assert inputs['efficientnet-lite0'] == '224x224'
    assert inputs['efficientnet-lite0-128'] == '128x128'
    assert inputs['faster-rcnn-lite0-fpn'] == '480x360'  # as its config resizes a field
    sizes = {r['model']: float(r['params_M']) for r in rows}
    assert 3 < sizes['efficientnet-lite0'] == sizes['efficientnet-lite0-128'] < 4  # 3.4 M
    assert sizes['cellvit-cls-head'] > sizes['cellvit'] > 15  # the sparse head is smaller
    assert sizes['cellvit-cpu'] == sizes['cellvit']  # the conversion keeps the parameters
    assert 'cellvit-cpu training: not timed, the conversion is for inference' in proc.stdout
    assert abs(sizes['hf-cvt-13'] - sizes['cellvit-cls-head']) < 0.5  # the same architecture
    # CellViT plain and converted for CPU inference, same input and batch.
    assert [(r['model'], r['input'], r['batch']) for r in read(tmp_path / 'scaling.csv')] == [
        (m, '112x112', b) for m in ('cellvit', 'cellvit-cpu') for b in ('1', '2')]
    assert 'Goals:' in proc.stdout
    assert 'ConvTokenViT-13 (CLS head, CPU conversion) over HF CvT-13' in proc.stdout
    assert 'Default classifier (EfficientNet-Lite0, 128x128), fp32 crops/s at batch 2' in \
        proc.stdout
    assert re.search(r'Default detector \(Faster R-CNN Lite0-FPN, a field at 480x360\) over '
                     r'CS-ARFPN R50 \(640x480\), fp32 fields/s at batch 1: [\d.]+ \(goal >= 4',
                     proc.stdout)


@pytest.mark.benchmark
def test_bf16_off_is_said_once_under_the_table(tmp_path):
    proc = run_tool('tools/analysis_tools/benchmark.py', '--quick', '--models', 'resnet50',
                    '--bf16', 'off', '--out-dir', tmp_path)
    rows = read(tmp_path / 'benchmark.csv')
    assert [(r['model'], r['batch'], r['bf16_img_s']) for r in rows] == [
        ('resnet50', '1', 'n/a'), ('resnet50', '2', 'n/a')]
    assert all(float(r['fp32_img_s']) > 0 for r in rows)
    assert proc.stdout.split('Not measured:')[1].split('Goals:')[0].strip() == \
        'bf16 (every model): --bf16 off'
    assert ('CellViT (CPU conversion) bf16 over fp32 images/s at batch 2: not measured in this '
            'run') in proc.stdout


def test_both_detectors_pool_the_same_proposals(monkeypatch):
    # Untrained RPNs propose boxes of different sizes, and RoIAlign's cost follows box size: the
    # benchmark hands both RoI heads one fixed set of boxes, as many as the RPN proposed.
    import torch
    from mmdet.models.roi_heads import StandardRoIHead
    pooled, predict = [], StandardRoIHead.predict

    def record(self, x, rpn_results_list, *args, **kwargs):
        pooled.append((rpn_results_list[0].bboxes.clone(), rpn_results_list[0].scores.clone()))
        return predict(self, x, rpn_results_list, *args, **kwargs)
    monkeypatch.setattr(StandardRoIHead, 'predict', record)
    for name in ('cs-arfpn-r50', 'faster-rcnn-r50-fpn'):
        model, forward, _ = build(name)
        with torch.no_grad():
            forward(torch.randn(1, 3, 240, 320))
    (boxes, scores), (plain_boxes, plain_scores) = pooled
    assert boxes.shape == (1000, 4) and torch.equal(boxes, plain_boxes)
    assert not torch.equal(scores, plain_scores)  # each RPN still ran on its own features
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 320).all() and (boxes[:, 3] <= 240).all()


def test_a_scaling_point_out_of_memory_is_a_cell_not_a_lost_table(monkeypatch, capsys):
    benchmark = load_tool('tools/analysis_tools/benchmark.py')

    def run_worker(name, batches, iters, warmup, sizes):
        if name == 'cellvit-cpu' and batches == [1]:
            raise benchmark.WorkerFailed(f'the {name} worker was killed (out of memory?)',
                                         'killed')
        return [dict(model=name, input=f'{sizes[0]}x{sizes[0]}', batch=batches[0])], []
    monkeypatch.setattr(benchmark, 'run_worker', run_worker)
    rows = benchmark.scaling(iters=1, warmup=0, quick=True)
    assert [(r['model'], r['batch'], r.get('fp32_img_s')) for r in rows] == [
        ('cellvit', 1, None), ('cellvit', 2, None),
        ('cellvit-cpu', 1, 'n/a (killed)'), ('cellvit-cpu', 2, 'n/a (batch 1 failed)')]
    out = capsys.readouterr().out
    assert 'NOTE the cellvit-cpu worker was killed (out of memory?)' in out
    assert 'cellvit-cpu 112x112 batch 2' not in out  # skipped, not run


def test_peak_memory_is_what_the_block_allocates_each_time():
    import torch
    for _ in range(2):  # the second measurement starts after the first one's memory was freed
        with PeakMemory() as memory:
            kept = [torch.ones(2**18) for _ in range(64)]  # 64 MiB
        del kept
        assert 60 < memory.mib < 120, memory.mib


def test_the_cpu_models_are_cellvit_converted_for_cpu_inference():
    import torch

    from mmcell.engine.cpu_inference import OneDNNLinear
    model, forward, _ = build('cellvit-cpu')
    plain, plain_forward, _ = build('cellvit')
    assert list(model.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(model.state_dict())
    assert any(isinstance(m, OneDNNLinear) for m in model.modules())
    assert not any(isinstance(m, OneDNNLinear) for m in plain.modules())
    x = torch.randn(1, 3, 112, 112)
    with torch.no_grad():
        torch.testing.assert_close(forward(x), plain_forward(x), atol=1e-4, rtol=1e-4)


@pytest.mark.subprocess
def test_smear_run_times_infer_tool_per_detector(cell_classifier, cell_detector, synthetic_data,
                                                 tmp_path):
    from mmcell.benchmark.smear_run import SMEAR_COLUMNS, time_smear_run
    fields = sorted((synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages').glob('Smear_0000[67].jpg'))
    row = time_smear_run('cs-arfpn', fields, cell_detector, cell_classifier, tmp_path / 'run',
                         infer_args=('--score-thr', '0', '--white-class', 'RBC'))
    assert list(row) == SMEAR_COLUMNS
    # The detector keeps its 6 best boxes a field; every one is a "white" (RBC) cell here.
    assert (row['pipeline'], row['fields'], row['cells'], row['white_cells']) == (
        'cs-arfpn', 2, 12, 12)
    assert row['run_s'] > row['detection_s_field'] * 2 > 0 and row['classification_s_cell'] > 0
    timing = json.loads((tmp_path / 'run' / 'timing.json').read_text())
    assert timing['fields'] == 2 and timing['cells'] == 12


@pytest.mark.subprocess
def test_benchmark_smear_run_writes_one_row_per_detector(cell_classifier, cell_detector,
                                                         synthetic_data, tmp_path):
    folder = synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages'
    proc = run_tool('tools/analysis_tools/benchmark.py', '--models', 'resnet50', '--quick',
                    '--bf16', 'off', '--smear-run', folder, '--smear-fields', '2',
                    '--smear-detector', 'one', *cell_detector,
                    '--smear-detector', 'two', *cell_detector,
                    '--smear-classifier', *cell_classifier, '--out-dir', tmp_path)
    rows = read(tmp_path / 'smear_run.csv')
    assert [(r['pipeline'], r['fields']) for r in rows] == [('one', '2'), ('two', '2')]
    assert rows[0]['cells'] == rows[1]['cells']  # the same detector on the same fields
    assert 'one over two: the run' in proc.stdout
    proc = run_tool('tools/analysis_tools/benchmark.py', '--smear-run', folder, check=False)
    assert proc.returncode == 2
    assert '--smear-run needs at least one --smear-detector' in proc.stderr
