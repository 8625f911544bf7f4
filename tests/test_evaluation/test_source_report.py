"""SourceDetectionReport against hand-counted matches on two sources."""
import csv
import json

import pytest
import torch
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData

import mmcell  # noqa: F401
import mmcell.evaluation.source_report  # noqa: F401 (registers SourceDetectionReport)

from ..conftest import DATA, ROOT

CLASSES = ('WBC', 'RBC', 'Platelets')
A, B, C, D = [0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50], [60, 60, 70, 70]


def sample(source, gt_boxes, gt_labels, boxes, scores, labels):
    """A DetDataSample as the test loop gives it, its source in the metainfo (None: none)."""
    data = DetDataSample(metainfo={} if source is None else dict(source=source))
    data.gt_instances = InstanceData(bboxes=torch.tensor(gt_boxes, dtype=torch.float32),
                                     labels=torch.tensor(gt_labels, dtype=torch.long))
    data.ignored_instances = InstanceData(bboxes=torch.zeros(0, 4),
                                          labels=torch.zeros(0, dtype=torch.long))
    data.pred_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32),
                                       scores=torch.tensor(scores),
                                       labels=torch.tensor(labels, dtype=torch.long))
    return data


SAMPLES = [
    # bccd: the WBC at A found (0.9) and a false WBC at C (0.8); the RBC at B found at 0.3.
    sample('bccd', [A, B], [0, 1], [A, C, B], [0.9, 0.8, 0.3], [0, 0, 1]),
    # raabin: WBCs at A and C, RBC at B; a false WBC at B (0.7), the WBC at C found at 0.4 only,
    # the RBC and the WBC at A missed.
    sample('raabin', [A, C, B], [0, 0, 1], [B, C], [0.7, 0.4], [0, 0]),
    # raabin: a platelet found (0.6).
    sample('raabin', [D], [2], [D], [0.6], [2]),
]


def evaluate(tmp_path, samples=SAMPLES, **kwargs):
    metric = METRICS.build(dict(type='SourceDetectionReport', out_dir=str(tmp_path), **kwargs))
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = dict(classes=CLASSES)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_rows_by_hand(tmp_path):
    results = evaluate(tmp_path)
    rows = {r['source']: r for r in json.loads((tmp_path / 'source_report.json').read_text())
            ['rows']}
    assert list(rows) == ['raabin', 'bccd', 'all']  # TXL-PBC's order of sources, then all
    bccd, raabin, everything = rows['bccd'], rows['raabin'], rows['all']
    # Counts.
    assert (bccd['images'], bccd['boxes'], bccd['WBC_boxes'], bccd['RBC_boxes'],
            bccd['Platelets_boxes']) == (1, 2, 1, 1, 0)
    assert (raabin['images'], raabin['boxes'], raabin['WBC_boxes'], raabin['RBC_boxes'],
            raabin['Platelets_boxes']) == (2, 4, 2, 1, 1)
    assert (everything['images'], everything['boxes']) == (3, 6)
    # bccd. WBC: 0.9 TP, 0.8 FP -> PR (1, 1), (1, .5): AP 1. RBC: one TP: AP 1. No platelet: no AP.
    assert bccd['AP50_WBC'] == 100 and bccd['AP50_RBC'] == 100 and bccd['AP50_Platelets'] is None
    assert bccd['mAP50'] == 100
    # WBC recall at score >= 0.5: A found at 0.9 -> 1/1; detections >= 0.5: 2.
    assert (bccd['WBC_recall'], bccd['WBC_recall_any_score'], bccd['WBC_detections']) == (
        100, 100, 2)
    # raabin. WBC (2 boxes): 0.7 FP, 0.4 TP -> PR (0, 0), (.5, .5): AP .5 x .5 = .25.
    assert raabin['AP50_WBC'] == pytest.approx(25)
    assert raabin['AP50_RBC'] == 0 and raabin['AP50_Platelets'] == 100  # RBC missed, no det
    assert raabin['mAP50'] == pytest.approx((25 + 0 + 100) / 3)
    # WBC recall: nothing >= 0.5 found (0/2); at any score C is found (1/2).
    assert (raabin['WBC_recall'], raabin['WBC_recall_any_score'], raabin['WBC_detections']) == (
        0, 50, 1)
    # all. WBC (3 boxes): 0.9 TP, 0.8 FP, 0.7 FP, 0.4 TP -> recall 1/3 at precision 1, 2/3 at
    # 1/2: AP 1/3 + 1/3 x 1/2 = 1/2. RBC (2): one TP at 0.3 -> recall 1/2 at precision 1: 1/2.
    assert everything['AP50_WBC'] == pytest.approx(50)
    assert everything['AP50_RBC'] == pytest.approx(50) and everything['AP50_Platelets'] == 100
    assert everything['mAP50'] == pytest.approx(200 / 3)
    assert everything['WBC_recall'] == pytest.approx(100 / 3)
    assert everything['WBC_recall_any_score'] == pytest.approx(200 / 3)
    assert everything['WBC_detections'] == 3
    # What the evaluator returns: mAP50 and the WBC recalls per source, prefixed.
    assert results['source/raabin_WBC_recall'] == 0
    assert results['source/bccd_mAP50'] == 100
    assert results['source/all_WBC_recall_any_score'] == pytest.approx(200 / 3)
    assert len(results) == 9
    # The CSV: one row per source and all, an empty cell where a class has no box.
    with open(tmp_path / 'source_report.csv', newline='') as f:
        table = list(csv.DictReader(f))
    assert [r['source'] for r in table] == ['raabin', 'bccd', 'all']
    assert table[1]['AP50_Platelets'] == '' and float(table[0]['AP50_WBC']) == pytest.approx(25)
    assert list(table[0])[:3] == ['source', 'images', 'boxes']
    report = json.loads((tmp_path / 'source_report.json').read_text())
    assert (report['score_thr'], report['iou_thr'], report['wbc_class']) == (0.5, 0.5, 'WBC')


def test_the_score_threshold_moves_the_wbc_recall_only(tmp_path):
    evaluate(tmp_path, score_thr=0.3)
    rows = {r['source']: r for r in json.loads((tmp_path / 'source_report.json').read_text())
            ['rows']}
    assert rows['raabin']['WBC_recall'] == 50  # C's 0.4 now counts
    assert rows['raabin']['AP50_WBC'] == pytest.approx(25)  # AP uses every score anyway


def test_a_sample_without_a_source_is_refused_unless_a_default_is_given(tmp_path):
    unsourced = [sample(None, [A], [0], [A], [0.9], [0])]
    with pytest.raises(KeyError, match="no 'source'.*PackDetInputs"):
        evaluate(tmp_path, unsourced)
    evaluate(tmp_path, unsourced, default_source='bccd')
    rows = json.loads((tmp_path / 'source_report.json').read_text())['rows']
    assert [r['source'] for r in rows] == ['bccd', 'all'] and rows[0]['WBC_recall'] == 100


def test_classes_in_another_order_and_a_missing_wbc_class(tmp_path):
    from mmcell.evaluation.source_report import source_rows
    metric = METRICS.build(dict(type='SourceDetectionReport'))
    metric.dataset_meta = dict(classes=('RBC', 'WBC', 'Platelets'))  # BCCD's order
    metric.process(None, [sample('bccd', [A, B], [1, 0], [A], [0.9], [1]).to_dict()])
    row = source_rows(metric.results, metric.dataset_meta['classes'])[0]
    assert (row['WBC_recall'], row['AP50_WBC'], row['AP50_RBC']) == (100, 100, 0)
    with pytest.raises(ValueError, match="wbc_class 'wbc'"):
        source_rows(metric.results, metric.dataset_meta['classes'], wbc_class='wbc')


@pytest.mark.skipif(not (DATA / 'txl_pbc' / 'TXL_PBC').is_dir(),
                    reason=f'TXL-PBC not found under {DATA}')
def test_txl_pbc_test_split_through_the_config_pipeline(tmp_path):
    # The config's test pipeline packs each image's source; the ground truth taken as the
    # detections (score 1) is found entirely, per source.
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/datasets/txl_pbc.py'))
    metric_cfg, = [m for m in cfg.test_evaluator if m['type'] == 'SourceDetectionReport']
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        metric = METRICS.build(dict(metric_cfg, out_dir=str(tmp_path)))
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = dataset.metainfo
    samples = []
    for i in range(len(dataset)):
        data = dataset[i]['data_samples']
        gt = data.gt_instances
        data.pred_instances = InstanceData(bboxes=gt.bboxes.tensor, labels=gt.labels,
                                           scores=torch.ones(len(gt)))
        samples.append(data)
    evaluator.process(samples)
    results = evaluator.evaluate(len(samples))
    rows = {r['source']: r for r in json.loads((tmp_path / 'source_report.json').read_text())
            ['rows']}
    assert {s: r['images'] for s, r in rows.items()} == dict(raabin=50, pbc=50, bccd=27, bcd=17,
                                                            all=144)
    # The README's test boxes less the 36 exact duplicates the dataset skips.
    assert rows['all']['WBC_boxes'] == 150 and rows['all']['boxes'] == 150 + 2425 + 76
    assert all(r['WBC_recall'] == 100 and r['mAP50'] == 100 for r in rows.values())
    assert results['source/all_mAP50'] == 100
