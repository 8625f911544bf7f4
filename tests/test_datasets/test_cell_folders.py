"""MunichAMLDataset (generated TCIA-layout files) and PBCDataset (the real PBC subset)."""
import shutil

import numpy as np
import pytest
from mmpretrain.registry import DATASETS
from PIL import Image

from mmcell.datasets import MUNICH_AML_CLASSES, PAPER_CLASSES, DatasetError

from ..conftest import DATA

PBC = DATA / 'pbc'
needs_pbc = pytest.mark.skipif(not PBC.is_dir(), reason=f'no PBC data at {PBC}')


def build(**cfg):
    return DATASETS.build(cfg)


def counts(dataset):
    labels = dataset.get_gt_labels().tolist()
    return {name: labels.count(i) for i, name in enumerate(dataset.metainfo['classes'])}


def test_munich_all_15_codes_with_full_names(munich_aml):
    dataset = build(type='MunichAMLDataset', data_root=str(munich_aml))
    assert dataset.metainfo['classes'] == tuple(MUNICH_AML_CLASSES)
    assert dataset.metainfo['full_names'][dataset.metainfo['classes'].index('NGS')] == \
        'neutrophil (segmented)'
    assert counts(dataset) == {code: 4 for code in MUNICH_AML_CLASSES}
    info = dataset.get_data_info(0)
    assert info['img_path'].endswith('AML-Cytomorphology/BAS/BAS_0001.tiff')


def test_munich_subset_keeps_order_and_leaves_the_rest_out(munich_aml):
    dataset = build(type='MunichAMLDataset', data_root=str(munich_aml), classes=PAPER_CLASSES)
    assert dataset.metainfo['classes'] == PAPER_CLASSES
    assert len(dataset) == 40
    ngs = [dataset.get_data_info(i) for i in range(len(dataset))
           if dataset.get_data_info(i)['gt_label'] == 0]
    assert len(ngs) == 4 and all('/NGS/NGS_' in d['img_path'] for d in ngs)


def test_munich_rgba_tiff_loads_as_rgb(munich_aml):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    dataset = build(type='MunichAMLDataset', data_root=str(munich_aml), classes=['MON'],
                    pipeline=pipeline)
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 400, 400)
    expected = np.asarray(Image.open(dataset.get_data_info(0)['img_path']).convert('RGB'))
    # LoadImageFromFile gives BGR, as for every other image in OpenMMLab.
    assert (sample['inputs'].numpy().transpose(1, 2, 0)[..., ::-1] == expected).all()


def test_grayscale_image_loads_as_three_channels(tmp_path):
    folder = tmp_path / 'AML-Cytomorphology' / 'LYT'
    folder.mkdir(parents=True)
    Image.fromarray(np.full((50, 60), 77, np.uint8), 'L').save(folder / 'LYT_0001.tiff')
    dataset = build(type='MunichAMLDataset', data_root=str(tmp_path),
                    pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
    assert tuple(dataset[0]['inputs'].shape) == (3, 50, 60)


@pytest.mark.parametrize('suffix', ['.png', '.tiff'])
@pytest.mark.parametrize('channels', [1, 3])
def test_16_bit_images_load_as_8_bit_three_channels(tmp_path, suffix, channels):
    """A 16-bit scan (grayscale or colour, PNG or TIFF) passes the build-time check and loads as
    8-bit BGR scaled by 1/256, the top byte of each value."""
    import cv2
    folder = tmp_path / 'AML-Cytomorphology' / 'MON'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 65536, (40, 30, channels), dtype=np.uint16)
    assert cv2.imwrite(str(folder / f'MON_0001{suffix}'), pixels.squeeze())
    dataset = build(type='MunichAMLDataset', data_root=str(tmp_path),
                    pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
    loaded = dataset[0]['inputs'].numpy().transpose(1, 2, 0)
    assert loaded.dtype == np.uint8 and loaded.shape == (40, 30, 3)
    expected = np.broadcast_to(pixels >> 8, (40, 30, 3))
    assert np.abs(loaded.astype(int) - expected).max() <= 1  # OpenCV rounds


@pytest.mark.parametrize('content, problem', [(b'', 'is empty'), (b'hello', 'is not a JPEG')])
def test_corrupt_file_is_named_at_build_time(tmp_path, munich_aml, content, problem):
    root = tmp_path / 'copy'
    shutil.copytree(munich_aml, root)
    bad = root / 'AML-Cytomorphology' / 'EOS' / 'EOS_0002.tiff'
    bad.write_bytes(content)
    with pytest.raises(DatasetError, match=f'{bad}.*{problem}'):
        build(type='MunichAMLDataset', data_root=str(root))


def test_unknown_code_folder_and_class_are_errors(tmp_path, munich_aml):
    with pytest.raises(DatasetError, match=r"unknown classes \['XYZ'\]"):
        build(type='MunichAMLDataset', data_root=str(munich_aml), classes=['NGS', 'XYZ'])
    root = tmp_path / 'copy'
    shutil.copytree(munich_aml, root)
    (root / 'AML-Cytomorphology' / 'ABC').mkdir()
    with pytest.raises(DatasetError, match=r"\['ABC'\] are not class folders"):
        build(type='MunichAMLDataset', data_root=str(root))
    with pytest.raises(DatasetError, match='does not exist'):
        build(type='MunichAMLDataset', data_root=str(tmp_path / 'nowhere'))


@needs_pbc
def test_pbc_class_counts():
    dataset = build(type='PBCDataset', data_root=str(PBC))
    assert counts(dataset) == {c: 300 for c in ('basophil', 'eosinophil', 'erythroblast', 'ig',
                                                'lymphocyte', 'monocyte', 'neutrophil',
                                                'platelet')}


@needs_pbc
def test_pbc_fine_labels_from_filename_prefixes():
    dataset = build(type='PBCDataset', data_root=str(PBC), fine_labels=True)
    assert counts(dataset) == {
        'basophil': 300, 'eosinophil': 300, 'erythroblast': 300, 'ig': 20, 'metamyelocyte': 109,
        'myelocyte': 113, 'promyelocyte': 58, 'lymphocyte': 300, 'monocyte': 300,
        'neutrophil': 1, 'band neutrophil': 141, 'segmented neutrophil': 158, 'platelet': 300}
    names = dataset.metainfo['classes']
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        prefix = info['img_path'].rsplit('/', 1)[1].split('_')[0]
        expected = {'MMY': 'metamyelocyte', 'MY': 'myelocyte', 'PMY': 'promyelocyte',
                    'BNE': 'band neutrophil', 'SNE': 'segmented neutrophil'}.get(prefix)
        if expected:
            assert names[info['gt_label']] == expected


def test_ann_file_lines_are_checked(tmp_path, munich_aml):
    ann = tmp_path / 'list.txt'
    ann.write_text('NGS/NGS_0001.tiff 12\nNGS/NGS_0002.tiff\n')
    with pytest.raises(DatasetError, match=r'list.txt, line 2: expected'):
        build(type='MunichAMLDataset', data_root=str(munich_aml), ann_file=str(ann))
    ann.write_text('NGS/NGS_0001.tiff 0\n')
    with pytest.raises(DatasetError, match=r"line 1: label 0, but NGS/NGS_0001.tiff is 'NGS'"):
        build(type='MunichAMLDataset', data_root=str(munich_aml), ann_file=str(ann))
    ann.write_text('NGS/NGS_0009.tiff 12\n')
    with pytest.raises(DatasetError, match=r'line 1: image .*NGS_0009.tiff does not exist'):
        build(type='MunichAMLDataset', data_root=str(munich_aml), ann_file=str(ann))
    ann.write_text('NGS/NGS_0001.tiff 12\n\nMON/MON_0003.tiff 8\n')
    dataset = build(type='MunichAMLDataset', data_root=str(munich_aml), ann_file=str(ann))
    assert dataset.get_gt_labels().tolist() == [12, 8]


@pytest.mark.parametrize('suffix, cut', [('.jpg', 40), ('.png', 20), ('.bmp', 100), ('.tiff', 0)])
def test_truncated_images_are_found_from_their_last_bytes(tmp_path, suffix, cut):
    from mmcell.datasets import check_image_file
    path = tmp_path / f'cell{suffix}'
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path)
    assert check_image_file(path) is None
    data = path.read_bytes()
    path.write_bytes(data[:-cut] if cut else data[:len(data) // 2])  # TIFF: lose half the strips
    assert check_image_file(path).startswith('is truncated')
