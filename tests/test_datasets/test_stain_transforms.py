"""Stain augmentation, normalisation and re-framing: built through the registries, seeded,
identity at zero strength, within their bounds, every image layout, bad targets named."""
import json

import numpy as np
import pytest
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmpretrain.registry import TRANSFORMS
from skimage.color import deltaE_ciede2000, rgb2lab

from mmcell.datasets.transforms import (ROMANOWSKY_RGB_FROM_STAINS, fit_stain_target, find_cell,
                                        lab_statistics, load_stain_target, to_rgb_float)
from mmcell.datasets.transforms.colour import to_stains
from mmcell.synthetic import render_cell_crop

from ..conftest import ROOT

PBC_TARGET = str(ROOT / 'configs' / '_base_' / 'datasets' / 'pbc_stain_target.json')
COLOUR_TRANSFORMS = [
    dict(type='RandomStainJitter'),
    dict(type='RandomLabStats', target=PBC_TARGET),
    dict(type='StainNormalize', target=PBC_TARGET),
    dict(type='StainNormalize', target=PBC_TARGET, region='all'),
    dict(type='StainNormalize', target=PBC_TARGET, method='macenko'),
    dict(type='RandomJPEG', prob=1.0),
]


def cell(seed=0, size=96, cell_class='neutrophil'):
    """A synthetic May-Grünwald-Giemsa crop (BGR uint8) with its white cell in the middle."""
    return render_cell_crop(cell_class, np.random.default_rng(seed), size=size)


def delta_e(a, b):
    """Mean CIEDE2000 colour difference of two BGR uint8 images."""
    return float(deltaE_ciede2000(rgb2lab(a[..., ::-1] / 255), rgb2lab(b[..., ::-1] / 255)).mean())


def ident(cfg):
    return '-'.join([cfg['type']] + [str(cfg[k]) for k in ('method', 'region') if k in cfg])


@pytest.mark.parametrize('cfg', COLOUR_TRANSFORMS, ids=ident)
def test_colour_transforms_build_in_both_registries_and_are_seeded(cfg):
    img = cell()
    outputs = []
    for registry in (TRANSFORMS, MMDET_TRANSFORMS):
        transform = registry.build(dict(cfg))
        np.random.seed(3)
        outputs.append(transform(dict(img=img.copy()))['img'])
    assert np.array_equal(outputs[0], outputs[1])  # same seed, same image, either registry
    assert outputs[0].shape == img.shape and outputs[0].dtype == np.uint8
    if cfg['type'].startswith('Random'):
        np.random.seed(4)
        assert not np.array_equal(TRANSFORMS.build(dict(cfg))(dict(img=img.copy()))['img'],
                                  outputs[0])


def test_reframing_is_for_classification_pipelines_only():
    assert TRANSFORMS.get('ReframeCell') is not None
    with pytest.raises(KeyError):
        MMDET_TRANSFORMS.build(dict(type='ReframeCell', cell_fraction=0.3))


LAYOUTS = {
    'grey': lambda img: img.mean(2).astype(np.uint8),
    'grey-1-channel': lambda img: img.mean(2, keepdims=True).astype(np.uint8),
    'bgra': lambda img: np.concatenate([img, np.full(img.shape[:2] + (1, ), 200, np.uint8)], 2),
    '16-bit': lambda img: img.astype(np.uint16) * 257,
    'float': lambda img: img.astype(np.float32) / 255,
}


@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('cfg', COLOUR_TRANSFORMS + [dict(type='ReframeCell', cell_fraction=0.3)],
                         ids=ident)
def test_every_layout_goes_through_and_keeps_its_shape_and_type(cfg, layout):
    img = LAYOUTS[layout](cell())
    out = TRANSFORMS.build(dict(cfg))(dict(img=img.copy(), img_path='x.png'))['img']
    assert out.dtype == img.dtype and out.shape[2:] == img.shape[2:]
    if cfg['type'] != 'ReframeCell':
        assert out.shape == img.shape
    if layout == 'bgra' and cfg['type'] != 'ReframeCell':
        assert (out[..., 3] == 200).all()  # alpha untouched


@pytest.mark.parametrize('cfg', COLOUR_TRANSFORMS[:3], ids=lambda c: c['type'])
def test_an_image_it_cannot_read_is_named_with_the_transform(cfg):
    transform = TRANSFORMS.build(dict(cfg))
    with pytest.raises(ValueError, match=f'{cfg["type"]}: smear_7.png.*got \\(8, 8, 5\\)'):
        transform(dict(img=np.zeros((8, 8, 5), np.uint8), img_path='smear_7.png'))
    with pytest.raises(ValueError, match='smear_7.png: unsupported pixel type int32'):
        transform(dict(img=np.zeros((8, 8, 3), np.int32), img_path='smear_7.png'))


def test_zero_strength_is_the_identity_within_one_grey_level():
    img = cell()
    jitter = TRANSFORMS.build(dict(type='RandomStainJitter', concentration=0, shift=0,
                                   vector_std=0))
    lab = TRANSFORMS.build(dict(type='RandomLabStats', target=PBC_TARGET, strength=0))
    for transform in (jitter, lab):
        out = transform(dict(img=img.copy()))['img']
        assert np.abs(out.astype(int) - img).max() <= 1


def test_stain_jitter_stays_within_its_concentration_bounds():
    rgb, _ = to_rgb_float(cell())
    before = to_stains(rgb)[..., :2]
    jitter = TRANSFORMS.build(dict(type='RandomStainJitter', concentration=0.2, shift=0,
                                   vector_std=0, channel_order='rgb'))
    for seed in range(5):
        np.random.seed(seed)
        out = jitter(dict(img=rgb.copy()))['img']
        after = to_stains(out)[..., :2]
        unclipped = (out.min(2, keepdims=True) > 0.02) & (out.max(2, keepdims=True) < 0.999)
        dense = (before > 0.05) & unclipped
        ratio = after[dense] / before[dense]
        assert ratio.min() >= 0.8 - 0.02 and ratio.max() <= 1.2 + 0.02
        assert np.ptp(ratio) > 0  # it did change something


def test_lab_statistics_move_to_the_drawn_ones():
    target = load_stain_target(PBC_TARGET)
    lab = TRANSFORMS.build(dict(type='RandomLabStats', target=target, spread=0, strength=1,
                                channel_order='rgb'))
    rgb, _ = to_rgb_float(cell(size=64)[..., ::-1])
    stats = lab_statistics(lab(dict(img=rgb))['img'])
    assert np.allclose(stats[0], target.lab_mean, atol=2.0)
    assert np.allclose(stats[1], target.lab_std, atol=2.0)


def test_normalising_the_targets_own_image_barely_changes_it():
    img = cell(1)
    target = fit_stain_target([img])
    for settings, bound in ((dict(method='reinhard'), 1.0),
                            (dict(method='reinhard', region='all'), 1.0),
                            (dict(method='macenko'), 6.0)):
        norm = TRANSFORMS.build(dict(type='StainNormalize', target=target, **settings))
        assert delta_e(norm(dict(img=img.copy()))['img'], img) < bound


@pytest.mark.parametrize('settings', [dict(method='reinhard'), dict(method='reinhard', region='all'),
                                      dict(method='macenko')], ids=str)
def test_a_recoloured_copy_comes_back_close_to_the_original(settings):
    img = cell(2)
    target = fit_stain_target([img])
    recoloured = np.clip(img.astype(float) * (0.75, 1.0, 1.15) + (0, 10, 0), 0, 255).astype(
        np.uint8)  # another lab's white balance (BGR gains)
    norm = TRANSFORMS.build(dict(type='StainNormalize', target=target, **settings))
    back = norm(dict(img=recoloured))['img']
    assert delta_e(back, img) < 0.5 * delta_e(recoloured, img)


def test_macenko_finds_eosin_and_methylene_blue_in_romanowsky_order():
    from mmcell.datasets.transforms import macenko_stains
    from mmcell.datasets.transforms.colour import from_stains
    rng = np.random.default_rng(0)
    stains = np.zeros((96, 64, 3))  # the first 32 rows: background
    stains[32:64, :, 0] = rng.uniform(0.2, 1.5, (32, 64))  # eosin only (red cells)
    stains[64:, :, 1] = rng.uniform(0.2, 1.5, (32, 64))  # methylene blue only (nuclei)
    rgb = from_stains(stains)
    vectors, _ = macenko_stains(rgb)
    assert np.abs(vectors - ROMANOWSKY_RGB_FROM_STAINS[:2]).max() < 0.05


def test_a_crop_with_no_stained_cell_has_no_macenko_estimate_and_is_left_as_it_is():
    blank = np.full((32, 32, 3), 230, np.uint8)
    norm = TRANSFORMS.build(dict(type='StainNormalize', target=PBC_TARGET, method='macenko'))
    out = norm(dict(img=blank.copy()))
    assert out['stain_normalized'] is False and np.array_equal(out['img'], blank)


def test_reframing_recentres_an_off_centre_cell_and_scales_it():
    img = np.full((120, 120, 3), 255, np.uint8)
    img[...] = (200, 220, 245)  # a peach background, BGR
    yy, xx = np.mgrid[:120, :120]
    img[np.hypot(yy - 30, xx - 85) < 12] = (150, 50, 100)  # a purple nucleus off-centre
    out = TRANSFORMS.build(dict(type='ReframeCell', cell_fraction=0.25))(dict(img=img))
    assert out['reframed'] is True
    row, col, diameter = find_cell(to_rgb_float(out['img'])[0])
    side = out['img'].shape[0]
    assert out['img'].shape[:2] == (side, side)
    assert abs(row - (side - 1) / 2) < 1.5 and abs(col - (side - 1) / 2) < 1.5
    assert diameter / side == pytest.approx(0.25, abs=0.02)


def test_reframing_leaves_a_crop_without_a_stained_cell_as_it_is():
    img = np.full((50, 50, 3), (200, 220, 245), np.uint8)
    img[10:20, 10:20] = (190, 170, 220)  # a pale pink red cell, no white cell
    out = TRANSFORMS.build(dict(type='ReframeCell', cell_fraction=0.3))(dict(img=img.copy()))
    assert out['reframed'] is False and np.array_equal(out['img'], img)


def test_a_missing_or_malformed_target_fails_at_build_naming_the_file(tmp_path):
    missing = tmp_path / 'nope.json'
    with pytest.raises(FileNotFoundError, match=f'{missing}: no such file'):
        TRANSFORMS.build(dict(type='StainNormalize', target=str(missing)))
    broken = tmp_path / 'broken.json'
    broken.write_text('{"lab_mean": [1, 2')
    with pytest.raises(ValueError, match=f'{broken}: not JSON'):
        TRANSFORMS.build(dict(type='RandomLabStats', target=str(broken)))
    good = json.loads(open(PBC_TARGET).read())
    for field, value in (('lab_std', [1, 2]), ('cell_fraction', 3), ('eosin', 'red')):
        bad = tmp_path / f'{field}.json'
        bad.write_text(json.dumps(dict(good, **{field: value})))
        with pytest.raises(ValueError, match=f'{bad}: "{field}" is malformed'):
            TRANSFORMS.build(dict(type='ReframeCell', target=str(bad)))
    incomplete = tmp_path / 'incomplete.json'
    incomplete.write_text(json.dumps({k: v for k, v in good.items() if k != 'background'}))
    with pytest.raises(ValueError, match=f'{incomplete}: no "background"'):
        TRANSFORMS.build(dict(type='StainNormalize', target=str(incomplete), method='macenko'))


def test_the_shipped_pbc_target_is_what_the_tool_fitted_on_pbcs_training_split():
    target = load_stain_target(PBC_TARGET)
    assert target.images == 1680 and 'cellvit_pbc.py (train split' in target.source
    assert np.allclose(np.array([target.eosin, target.methylene_blue]),
                       ROMANOWSKY_RGB_FROM_STAINS[:2], atol=0.01)
    assert 0.2 < target.cell_fraction < 0.35  # a PBC white cell spans about a quarter


def test_context_reinhard_keeps_the_white_cells_own_colour():
    """Two crops of the same lab, one white cell dark and one pale: normalising over every pixel
    pulls them together (the class shows in the colour), over the context it does not."""
    dark, pale = cell(5, cell_class='basophil'), cell(5, cell_class='basophil')
    rgb, _ = to_rgb_float(pale)
    from mmcell.datasets.transforms import context_mask
    inside = ~context_mask(rgb)
    pale[inside] = np.clip(pale[inside].astype(int) + 60, 0, 255)  # the cell alone is paler
    target = fit_stain_target([dark])

    def normalised(img, region):
        norm = TRANSFORMS.build(dict(type='StainNormalize', target=target, region=region))
        return norm(dict(img=img.copy()))['img']

    outside = ~inside
    context = [normalised(img, 'context') for img in (dark, pale)]
    every = [normalised(img, 'all') for img in (dark, pale)]
    # Over the context, the background and red cells stay where they were mapped (the pale
    # crop's blob differs a little, so its mask does) and the cells keep their difference.
    assert delta_e(context[0][outside][None], context[1][outside][None]) < 1.5
    assert delta_e(context[0][inside][None], context[1][inside][None]) > 15
    # Over every pixel, the paler cell shifts the whole crop and loses half its difference.
    assert delta_e(every[0][outside][None], every[1][outside][None]) > 3
    assert delta_e(every[0][inside][None], every[1][inside][None]) < 12
