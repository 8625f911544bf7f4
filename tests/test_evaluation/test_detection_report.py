"""DetectionReport against hand-counted detections."""
import json

import numpy as np
import pytest
import torch
from mmdet.registry import METRICS
from mmengine.structures import InstanceData
from PIL import Image

import mmcell  # noqa: F401


def sample(gt_boxes, gt_labels, boxes, scores, labels):
    return dict(
        gt_instances=InstanceData(bboxes=torch.tensor(gt_boxes, dtype=torch.float32),
                                  labels=torch.tensor(gt_labels)),
        ignored_instances=InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0).long()),
        pred_instances=InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32),
                                    scores=torch.tensor(scores), labels=torch.tensor(labels)))


def test_rows_by_hand(tmp_path):
    metric = METRICS.build(dict(type='DetectionReport', score_thr=0.5, out_dir=str(tmp_path)))
    metric.dataset_meta = dict(classes=('rbc', 'wbc'))
    a, b, c = [0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]
    metric.process({}, [
        # rbc: a found (0.9), b found but below the threshold (0.3), a duplicate (0.8) is an FP;
        # wbc: c missed, a false wbc at b (0.7).
        sample([a, b, c], [0, 0, 1], [a, b, a, b], [0.9, 0.3, 0.8, 0.7], [0, 0, 0, 1]),
    ])
    results = metric.evaluate(1)
    rows = {r['name']: r for r in json.loads((tmp_path / 'detection_report.json').read_text())
            ['rows']}
    # rbc at score >= 0.5: dets 0.9 (TP), 0.8 (FP) -> recall 1/2, precision 1/2.
    assert rows['rbc']['recall'] == 50 and rows['rbc']['precision'] == 50
    assert rows['rbc']['f1-score'] == pytest.approx(50) and rows['rbc']['dets'] == 2
    # rbc AP over all scores: PR points (r .5, p 1), (.5, .5), (1, 2/3) -> area 0.5 + 0.5 * 2/3.
    assert rows['rbc']['ap'] == pytest.approx(100 * (0.5 + 0.5 * 2 / 3))
    assert rows['wbc']['recall'] == 0 and rows['wbc']['precision'] == 0 and rows['wbc']['ap'] == 0
    overall = rows['overall']
    assert (overall['gts'], overall['dets']) == (3, 3)
    assert overall['recall'] == pytest.approx(100 / 3) and overall['precision'] == pytest.approx(100 / 3)
    assert results['report/mAP'] == pytest.approx((rows['rbc']['ap'] + 0) / 2)
    lines = (tmp_path / 'detection_report.csv').read_text().splitlines()
    assert lines[0] == 'class,recall,precision,f1-score,ap,gts,dets' and len(lines) == 4
    assert Image.open(tmp_path / 'pr_curves.png').size == (720, 600)
    # Confusion at score >= 0.5: a found as rbc; the duplicate at a is a detection of no cell
    # (a is taken); b (rbc) found as wbc; c (wbc) not found.
    confusion = json.loads((tmp_path / 'detection_report.json').read_text())['confusion']
    assert confusion == [[1, 1, 0], [0, 0, 1], [1, 0, 0]]
    assert (tmp_path / 'confusion_matrix.csv').read_text().splitlines() == [
        'true \\ detected,rbc,wbc,background', 'rbc,1,1,0', 'wbc,0,0,1', 'background,1,0,0']
    assert Image.open(tmp_path / 'confusion_matrix.png').size[0] > 300


def test_confusion_matches_one_detection_per_cell_by_score_and_skips_ignored_boxes():
    from mmcell.evaluation.detection_report import detection_confusion
    a, b, far = [0, 0, 10, 10], [5, 0, 15, 10], [50, 50, 60, 60]  # a and b overlap by 1/3
    gt = dict(bboxes=np.array([a, b], float), labels=np.array([2, 0]),
              bboxes_ignore=np.array([far], float), labels_ignore=np.array([1]))
    dets = [np.array([[5, 0, 15, 10, 0.6]]),  # class 0 at b
            np.array([[0, 0, 10, 10, 0.9], [50, 50, 60, 60, 0.8]]),  # class 1 at a; at ignored
            np.array([[0, 0, 10, 10, 0.4]])]  # class 2 at a, below the threshold
    matrix = detection_confusion([(gt, dets)], 3, score_thr=0.5, iou_thr=0.5)
    expected = np.zeros((4, 4), int)
    expected[2, 1] = 1  # a (class 2) found, called class 1
    expected[0, 0] = 1  # b found as class 0
    np.testing.assert_array_equal(matrix, expected)  # the ignored box's detection: nowhere
    empty = dict(bboxes=np.zeros((0, 4)), labels=np.zeros(0, int), bboxes_ignore=np.zeros((0, 4)),
                 labels_ignore=np.zeros(0, int))
    only_false = detection_confusion([(empty, [np.array([a + [0.9]]), np.zeros((0, 5))])], 2,
                                     0.5, 0.5)
    assert only_false.tolist() == [[0, 0, 0], [0, 0, 0], [1, 0, 0]]
    only_missed = detection_confusion([(gt, [np.zeros((0, 5))] * 3)], 3, 0.5, 0.5)
    assert only_missed[:, 3].tolist() == [1, 0, 1, 0] and only_missed.sum() == 2


def test_matches_mmdet_voc_metric_ap():
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(5):
        gt = rng.uniform(0, 80, (6, 2))
        gt_boxes = np.hstack([gt, gt + 15])
        noisy = gt_boxes + rng.normal(0, 3, gt_boxes.shape)
        samples.append(sample(gt_boxes.tolist(), [0, 0, 0, 1, 1, 1], noisy.tolist(),
                              rng.uniform(0, 1, 6).tolist(), [0, 0, 1, 1, 1, 0]))
    ours = METRICS.build(dict(type='DetectionReport'))
    voc = METRICS.build(dict(type='VOCMetric', metric='mAP', eval_mode='area'))
    for metric in (ours, voc):
        metric.dataset_meta = dict(classes=('rbc', 'wbc'))
        metric.process({}, samples)
    assert ours.evaluate(5)['report/mAP'] == pytest.approx(100 * voc.evaluate(5)['pascal_voc/mAP'],
                                                          abs=0.05)
