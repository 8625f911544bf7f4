"""tools/analysis_tools/analyze_selection.py and mmcell.evaluation.selection_report: the sparse
attention head's picks over a split, their spread, and whether they land on the cell."""
import csv
import json

import numpy as np
import pytest
import torch

from mmcell.evaluation.selection_report import image_selection, summarize_selection
from mmcell.models.heads import TokenSelection

from ..conftest import FIVE_CELL_CLASSES, load_tool, save_random_checkpoint
from .tiny_config import tiny_classifier_config

# A two-stage ConvTokenViT on the 32 px crops: 4x4 tokens, 2x2 strided keys, 2 heads.
TINY_CELLVIT = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvTokenViT', out_type='sparse_attention',
                  arch=dict(embed_dims=[16, 32], num_heads=[1, 2], depths=[1, 3],
                            patch_sizes=[7, 3], strides=[4, 2], paddings=[2, 1])),
    head=dict(type='SparseAttentionHead', num_classes=5, in_channels=32, num_layers=2,
              num_heads=2))


@pytest.fixture
def tiny(tmp_path, cell_crops):
    config = tmp_path / 'tiny_cellvit.py'
    config.write_text(tiny_classifier_config(cell_crops, model=TINY_CELLVIT))
    return config, save_random_checkpoint(config, tmp_path / 'tiny.pth', FIVE_CELL_CLASSES)


def analyze(tmp_path, *argv):
    out = tmp_path / 'selection'
    load_tool('tools/analysis_tools/analyze_selection.py').main([*map(str, argv), '--out-dir',
                                                                 str(out)])
    return out


def test_the_tool_writes_one_row_per_image_and_a_summary_that_agrees(tmp_path, tiny, capsys):
    out = analyze(tmp_path, *tiny)
    with open(out / 'selection.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20 and {r['true'] for r in rows} == set(FIVE_CELL_CLASSES)
    summary = json.loads((out / 'selection.json').read_text())
    assert summary['images'] == 20 and summary['head'] == dict(squeeze='peak', gate='sigmoid',
                                                               pick='argmax')
    distinct = [int(r['distinct_tokens']) for r in rows]
    assert summary['distinct_tokens'] == pytest.approx(np.mean(distinct))
    assert summary['distinct_histogram'] == [distinct.count(1), distinct.count(2)]
    for r in rows:
        tokens = [int(t) for t in r['tokens'].split()]
        # 4x4 tokens, 2x2 keys at stride 2: a head picks token (2r, 2c).
        assert len(tokens) == 2 and set(tokens) <= {0, 2, 8, 10}
        # Each layer's weight is the SE step's; they sum to 1 in every image.
        assert float(r['weight_layer1']) + float(r['weight_layer2']) == pytest.approx(1, abs=1e-5)
        assert 0 <= float(r['entropy_head1']) <= 1
    assert len(summary['layer_weights_mean']) == 2
    on_cell = [int(r['picks_on_cell']) for r in rows if r['cell_found'] == 'True']
    assert summary['picks_on_cell'] == pytest.approx(sum(on_cell) / (2 * len(on_cell)))
    assert summary['no_cell_found'] == 20 - len(on_cell)
    for name in ('selection.png', 'picks.png'):
        assert (out / name).stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert f"distinct tokens per image (over heads): {summary['distinct_tokens']:.2f}" in printed
    assert 'picks on the stained cell' in printed


def test_distinct_picks_through_the_config_and_limits(tmp_path, tiny):
    out = analyze(tmp_path, *tiny, '--cfg-options', 'model.head.pick=distinct',
                  'model.head.gate=softmax', '--max-images', '6', '--per-class', '0')
    summary = json.loads((out / 'selection.json').read_text())
    assert summary['images'] == 6
    assert summary['head'] == dict(squeeze='peak', gate='softmax', pick='distinct')
    assert summary['distinct_histogram'] == [0, 6]  # 4 keys for 2 heads: never the same token
    assert not (out / 'picks.png').exists()


def test_models_without_a_sparse_head_and_bad_arguments_are_refused(tmp_path, cell_crops):
    config = tmp_path / 'resnet.py'
    config.write_text(tiny_classifier_config(cell_crops))
    checkpoint = save_random_checkpoint(config, tmp_path / 'resnet.pth', FIVE_CELL_CLASSES)
    with pytest.raises(SystemExit, match='head is a LinearClsHead, not a SparseAttentionHead'):
        analyze(tmp_path, config, checkpoint)
    with pytest.raises(SystemExit):
        analyze(tmp_path, config, checkpoint, '--max-images', '0')


def selection(indices, attention, weights=((0.5, 0.5), )):
    indices = torch.tensor(indices)
    return TokenSelection(indices, indices, torch.tensor(attention, dtype=torch.float),
                          torch.tensor(weights))


def test_picks_on_a_drawn_cell_and_entropy_are_counted():
    img = np.full((40, 40, 3), 255, np.uint8)
    img[2:22, 2:22] = (77, 51, 153)  # a stained cell of 20x20 px, top left
    # 4x4 tokens of 10 px: tokens 0, 1, 4, 5 cover the cell; 15 is the bottom-right corner.
    (record, ) = image_selection(selection([[0, 5, 15]], [[[1, 0, 0, 0]] * 2 + [[1, 1, 1, 1]]]),
                                 (4, 4), (4, 4), [img], [1], [2])
    assert record['picks_on_cell'] == 2 and record['distinct_tokens'] == 3
    assert record['cell_tokens'] == 9 / 16  # rows and columns 0-2 of the grid touch it
    assert record['pick_xy'] == [[5, 5], [15, 15], [35, 35]]
    np.testing.assert_allclose(record['entropy'], [0, 0, 1], atol=1e-6)
    assert (record['label'], record['pred']) == (1, 2)
    (blank, ) = image_selection(selection([[3, 3, 3]], [[[1, 1, 1, 1]] * 3]), (4, 4), (4, 4),
                                [np.full((40, 40, 3), 255, np.uint8)], [0], [0])
    assert not blank['cell_found'] and blank['picks_on_cell'] is None
    summary = summarize_selection([record, blank])
    assert summary['distinct_histogram'] == [1, 0, 1] and summary['picks_on_cell'] == 2 / 3
    assert summary['no_cell_found'] == 1 and summary['se_spread_across_layers'] == 0


def test_the_chance_level_counts_the_tokens_keys_stand_for():
    img = np.full((40, 40, 3), 255, np.uint8)
    img[12:18, 2:38] = (77, 51, 153)  # a band across token row 1 only
    # 4x4 tokens, 2x2 keys at stride 2: only token rows and columns 0 and 2 can be picked.
    (record, ) = image_selection(selection([[4]], [[[1, 1, 1, 1]]]), (4, 4), (2, 2), [img],
                                 [0], [0])
    assert record['picks_on_cell'] == 1  # token 4 (row 1) is on the band
    assert record['cell_tokens'] == 0  # but no pickable token is


def test_se_spread_across_layers_and_images():
    records = [dict(tokens=[0], distinct_tokens=1, entropy=[0.5], layer_weights=w,
                    cell_found=False, cell_tokens=None, picks_on_cell=None)
               for w in ([0.2, 0.8], [0.6, 0.4])]
    summary = summarize_selection(records)
    assert summary['se_spread_across_layers'] == pytest.approx(0.4)  # (0.6 + 0.2) / 2
    assert summary['se_spread_across_images']['max'] == pytest.approx(0.2)
    assert summary['picks_on_cell'] is None and summary['cell_tokens'] is None
    with pytest.raises(ValueError, match='no images'):
        summarize_selection([])
