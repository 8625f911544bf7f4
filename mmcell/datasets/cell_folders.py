"""Single-cell image datasets stored as one folder per class (PBC, Munich AML)."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset

from .splits import read_groups, split_indices

# The first bytes of the image formats these datasets ship (JPEG, PNG, TIFF, BMP).
IMAGE_MAGIC = (b'\xff\xd8\xff', b'\x89PNG', b'II*\x00', b'MM\x00*', b'BM')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp')


class DatasetError(ValueError):
    """A dataset's files or annotation do not match what its class reads; says which and why."""


def check_image_file(path: str) -> Optional[str]:
    """Return what is wrong with an image file, or None, from its first and last bytes.

    Finds empty files, files that are not JPEG/PNG/TIFF/BMP images, and files cut short: a JPEG
    without its end-of-image marker, a PNG without its ``IEND`` chunk, a BMP shorter than its
    header says, a TIFF whose first directory lies past its end. Reading 16 bytes a file keeps
    this cheap enough to run on every image when a dataset is built.
    """
    try:
        size = osp.getsize(path)
        with open(path, 'rb') as f:
            head = f.read(8)
            f.seek(max(0, size - 16))
            tail = f.read()
    except OSError as err:
        return f'cannot be read ({err.strerror})'
    if not head:
        return 'is empty (0 bytes)'
    if not head.startswith(IMAGE_MAGIC):
        return f'is not a JPEG/PNG/TIFF/BMP image (starts with {head[:4]!r})'
    if head.startswith(b'\xff\xd8\xff') and not tail.rstrip(b'\x00').endswith(b'\xff\xd9'):
        return f'is truncated ({size} bytes, no JPEG end-of-image marker)'
    if head.startswith(b'\x89PNG') and not tail.endswith(b'IEND\xaeB`\x82'):
        return f'is truncated ({size} bytes, no PNG IEND chunk)'
    if head.startswith(b'BM') and (declared := int.from_bytes(head[2:6], 'little')) > size:
        return f'is truncated ({size} bytes, its BMP header says {declared})'
    if head[:4] in (b'II*\x00', b'MM\x00*'):
        end = _tiff_data_end(path, 'little' if head[:2] == b'II' else 'big')
        if end is None or end > size:
            return (f'is truncated ({size} bytes, its TIFF directory or image data lies past '
                    'the end)')
    return None


def _tiff_data_end(path, order):
    """Where the first image's strips or tiles of a TIFF end, from its first directory; None
    if the directory itself is cut off."""
    types = {3: 2, 4: 4, 16: 8}  # SHORT, LONG, LONG8 (BigTIFF is not read here)
    with open(path, 'rb') as f:
        def read(offset, n):
            f.seek(offset)
            data = f.read(n)
            return data if len(data) == n else None

        def number(data):
            return int.from_bytes(data, order)
        ifd = read(4, 4)
        entries = ifd and read(number(ifd), 2)
        table = entries and read(number(ifd) + 2, 12 * number(entries))
        if not table:
            return None
        fields = {}
        for k in range(0, len(table), 12):
            tag, kind, count = number(table[k:k + 2]), number(table[k + 2:k + 4]), number(
                table[k + 4:k + 8])
            width = types.get(kind)
            if tag in (273, 279, 324, 325) and width:  # strip/tile offsets and byte counts
                raw = (table[k + 8:k + 8 + count * width] if count * width <= 4 else
                       read(number(table[k + 8:k + 12]), count * width))
                if raw is None:
                    return None
                fields[tag] = [number(raw[i:i + width]) for i in range(0, len(raw), width)]
    offsets = fields.get(273) or fields.get(324) or []
    counts = fields.get(279) or fields.get(325) or []
    return max((o + c for o, c in zip(offsets, counts)), default=0)


class CellFolderDataset(BaseDataset):
    """Base of datasets laid out as ``<data_root>/<data_prefix>/<class folder>/<image>``.

    Subclasses name their folders in ``FOLDERS`` (folder -> class) and may refine the class of a
    file in :meth:`class_of`. Images load as 3-channel BGR with mmcv's ``LoadImageFromFile``
    (RGBA, grayscale and 16-bit files included).

    Without ``ann_file`` every image under the class folders is used. With ``ann_file``
    (mmpretrain's format, one ``<folder>/<file> <label>`` per line, as
    ``tools/dataset_converters/make_splits.py`` writes), only the listed images are; the label
    column must match the class the path gives under this dataset's ``classes``.

    Args:
        data_root (str): The dataset's root. Defaults to ''.
        data_prefix (str): Folder under ``data_root`` that holds the class folders; a subclass
            sets the original dataset's name as default. Defaults to ''.
        ann_file (str): Optional list of images, relative to ``data_root``. Defaults to ''
            (every image under the class folders).
        classes (Sequence[str], optional): Keep only these classes, in this order (labels are
            their positions); images of other classes are left out. Defaults to None (all, in
            the subclass's order).
        split (dict, optional): Use one part of a seeded stratified split of the images:
            ``dict(part='train'|'val', num_folds=5, fold=0, seed=0)`` for k-fold, or
            ``dict(part='train'|'val'|'test', ratios=(0.7, 0.1, 0.2), seed=0)``; add
            ``groups='<csv of image,group>'`` (paths relative to the class folders' parent) to
            keep each patient or slide in one part. See :mod:`mmcell.datasets.splits`.
            Defaults to None (all images).
        check_files (bool): Check each image's first and last bytes when the dataset is built
            (:func:`check_image_file`), so an empty, non-image or truncated file fails there,
            named, rather than mid-epoch or silently half-grey. Defaults to True.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset`` (``pipeline``,
            ``test_mode``, ...).

    Raises:
        DatasetError: At build time, for a missing folder, an unknown class folder or name, a
            file that is empty, not an image or truncated, an empty subset, or a bad
            ``ann_file`` line (its number).
    """
    FOLDERS = {}

    def __init__(self,
                 data_root: str = '',
                 data_prefix: str = '',
                 ann_file: str = '',
                 classes: Optional[Sequence[str]] = None,
                 split: Optional[dict] = None,
                 check_files: bool = True,
                 **kwargs) -> None:
        self.split = split
        self.check_files = check_files
        all_classes = self.all_classes()
        if classes is not None:
            unknown = [c for c in classes if c not in all_classes]
            if unknown:
                raise DatasetError(f'{type(self).__name__}: unknown classes {unknown}; known: '
                                   f'{list(all_classes)}')
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         classes=list(classes or all_classes), **kwargs)

    def all_classes(self) -> Tuple[str, ...]:
        """Every class this dataset can label, in default order."""
        return tuple(dict.fromkeys(self.FOLDERS.values()))

    def class_of(self, folder: str, filename: str) -> str:
        """The class of ``folder/filename``; by default its folder's."""
        return self.FOLDERS[folder]

    def load_data_list(self) -> List[dict]:
        """The images of the chosen classes (and split part), checked."""
        root = self.img_prefix
        if not osp.isdir(root):
            raise DatasetError(f'{type(self).__name__}: image folder {root} does not exist '
                               f'(data_root={self.data_root!r}, data_prefix={self.data_prefix!r})')
        entries = self._read_ann_file() if self.ann_file else self._scan(root)
        class_to_idx = {c: i for i, c in enumerate(self.metainfo['classes'])}
        data_list, left_out = [], 0
        for relpath, label, where in entries:
            folder, filename = relpath.split('/', 1) if '/' in relpath else ('', relpath)
            if folder not in self.FOLDERS:
                raise DatasetError(f'{where}: folder {folder!r} is not a class folder of '
                                   f'{type(self).__name__} (expected one of {list(self.FOLDERS)})')
            name = self.class_of(folder, filename)
            if name not in class_to_idx:
                left_out += 1
                continue
            if label is not None and label != class_to_idx[name]:
                raise DatasetError(
                    f'{where}: label {label}, but {relpath} is {name!r}, label '
                    f'{class_to_idx[name]} under classes {self.metainfo["classes"]}; was the '
                    'file written for other classes?')
            data_list.append(dict(img_path=osp.join(root, relpath), gt_label=class_to_idx[name],
                                  relpath=relpath))
        if not data_list:
            raise DatasetError(f'{type(self).__name__}: no images of classes '
                               f'{self.metainfo["classes"]} in {self.ann_file or root}')
        if left_out:
            print_log(f'{type(self).__name__}: left out {left_out} image(s) of classes outside '
                      f'{self.metainfo["classes"]}', logger='current')
        if self.split:
            data_list = self._apply_split(data_list)
        if self.check_files:  # only the images this part uses
            bad = [f'{d["img_path"]} {problem}' for d in data_list
                   if (problem := check_image_file(d['img_path']))]
            if bad:
                raise DatasetError(f'{type(self).__name__}: {len(bad)} unusable image file(s): '
                                   + '; '.join(bad[:10]) + (' ...' if len(bad) > 10 else ''))
        return data_list

    def _apply_split(self, data_list):
        split = dict(self.split)
        groups = split.pop('groups', None)
        if groups is not None:
            table = read_groups(groups)
            missing = [d['relpath'] for d in data_list if d['relpath'] not in table]
            if missing:
                raise DatasetError(f'{groups} has no group for {len(missing)} image(s), e.g. '
                                   f'{missing[:3]}')
            groups = [table[d['relpath']] for d in data_list]
        try:
            keep = split_indices([d['gt_label'] for d in data_list], groups=groups, **split)
        except (TypeError, ValueError) as err:
            raise DatasetError(f'{type(self).__name__}: bad split={self.split}: {err}') from err
        return [data_list[i] for i in keep]

    def _scan(self, root):
        folders = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
        unknown = [d for d in folders if d not in self.FOLDERS]
        if unknown:
            raise DatasetError(f'{root}: folder(s) {unknown} are not class folders of '
                               f'{type(self).__name__} (expected {list(self.FOLDERS)})')
        for folder in folders:
            for filename in sorted(os.listdir(osp.join(root, folder))):
                if filename.startswith('.'):
                    continue
                if not filename.lower().endswith(IMAGE_EXTENSIONS):
                    raise DatasetError(f'{osp.join(root, folder, filename)} is not an image '
                                       f'(extensions read: {IMAGE_EXTENSIONS})')
                yield f'{folder}/{filename}', None, osp.join(root, folder, filename)

    def _read_ann_file(self):
        with open(self.ann_file) as f:
            lines = f.read().splitlines()
        for number, line in enumerate(lines, 1):
            where = f'{self.ann_file}, line {number}'
            if not line.strip():
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].isdigit():
                raise DatasetError(f'{where}: expected "<folder>/<file> <label>", got {line!r}')
            relpath = parts[0]
            if not osp.isfile(osp.join(self.img_prefix, relpath)):
                raise DatasetError(f'{where}: image {osp.join(self.img_prefix, relpath)} does not '
                                   'exist')
            yield relpath, int(parts[1]), where
