"""TXL-PBC: WBC, RBC and platelet boxes (YOLO text files) on images from four sources.

TXL-PBC (Gan and Li, 2024, arXiv:2407.13214) re-annotates images of four sources: Raabin-WBC's and
PBC's single-cell crops, BCCD's and the Kaggle BCD set's smear fields. Its layout::

    <data_root>/
        sources.csv                  split,file,source,size,bccd_image,bccd_split (made here)
        TXL_PBC/images/<split>/<name>.jpg
        TXL_PBC/labels/<split>/<name>.txt    one box a line: class cx cy w h (normalised)
        TXL_PBC/labels/<split>/classes.txt   class names, not a label file

with classes ``0 WBC, 1 RBC, 2 Platelets`` and splits train/val/test (1,008/288/144 images).
:class:`TXLPBCDataset` reads it into mmdet's detection data infos, boxes in pixel ``x1 y1 x2 y2``
from each image's real size (read from its header), each image's ``source`` (and, for BCCD frames,
``bccd_image`` and ``bccd_split``) from ``sources.csv``. Per case:

* fails at build time naming the file (and the line) and what is wrong: a line that is not five
  fields, a class outside 0-2 (or not an integer), a value that is not a number or outside
  [0, 1], a label file without its image, an image that is empty, not an image or cut short
  (:func:`~mmcell.datasets.check_image_file`), an image missing from ``sources.csv`` or of
  another size than ``sources.csv`` says;
* skips, counts and logs (with a few names): images without a label file. They are *not* taken
  as images without cells: every TXL-PBC image shows cells, so a missing label file is a missing
  annotation, and training on it as background would teach the detector to miss cells;
* goes on with a warning and a count: boxes reaching more than half a pixel outside their image
  (centre inside, a side beyond the edge) are clipped to it, boxes of zero area are skipped. The
  release has neither (its six-decimal fractions put some sides a thousandth of a pixel past the
  edge: those are clipped without a word). Lines repeating an earlier line of the file exactly
  (class and box) are skipped (``duplicates='skip'``, the default): the release has 38, in four
  files, 36 of them in one PBC test image whose white cell is boxed six times and most red cells
  twice. Kept, such a box is a cell no detector can find (a detection matches one box), and
  the same cell counted several times in recall.

A label file with no lines is an image without boxes (kept; ``filter_cfg=dict(
filter_empty_gt=True)`` leaves it out of training).
"""
import csv
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log
from PIL import Image

from .cell_folders import IMAGE_EXTENSIONS, DatasetError, check_image_file

__all__ = ['TXL_PBC_CLASSES', 'TXL_PBC_SOURCES', 'TXLPBCDataset', 'read_yolo_labels',
           'yolo_to_xyxy']

# The YOLO class ids' names (TXL_PBC/data.yaml); BCCD's VOC files use the same names.
TXL_PBC_CLASSES = ('WBC', 'RBC', 'Platelets')
TXL_PBC_SOURCES = ('raabin', 'pbc', 'bccd', 'bcd')
# Image sizes of the sources (width, height), for ``sources_file=None``.
SOURCE_SIZES = {(575, 575): 'raabin', (360, 363): 'pbc', (366, 369): 'pbc',
                (640, 480): 'bccd', (416, 416): 'bcd'}
SPLITS = ('train', 'val', 'test')
SHOWN_NAMES = 5  # names listed in a log line about skipped files
CLIP_TOLERANCE = 0.5  # pixels a box may reach past the image before it is warned of


def read_yolo_labels(path: str,
                     num_classes: int = 3) -> List[Tuple[int, int, Tuple[float, ...]]]:
    """The boxes of one YOLO label file, each checked.

    Blank lines are skipped. Every other line must be ``class cx cy w h``: an integer class in
    ``0 .. num_classes - 1`` and four numbers in [0, 1].

    Args:
        path (str): The label file.
        num_classes (int): Number of classes. Defaults to 3 (TXL-PBC's).

    Returns:
        list[tuple[int, int, tuple[float, ...]]]: ``(line number, class, (cx, cy, w, h))`` per
        box, line numbers from 1.

    Raises:
        DatasetError: Naming the file and the line: a wrong number of fields, a class that is
            not an integer or out of range, a value that is not a number or outside [0, 1].

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), 'a.txt')
        >>> _ = open(path, 'w').write('0 0.5 0.5 0.25 0.5\\n\\n2 0.1 0.2 0.1 0.1\\n')
        >>> read_yolo_labels(path)
        [(1, 0, (0.5, 0.5, 0.25, 0.5)), (3, 2, (0.1, 0.2, 0.1, 0.1))]
        >>> _ = open(path, 'w').write('3 0.5 0.5 0.25 0.5\\n')
        >>> read_yolo_labels(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mmcell.datasets.cell_folders.DatasetError: .../a.txt, line 1: class 3 is not one of 0-2
    """
    boxes = []
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            where = f'{path}, line {number}'
            if len(fields) != 5:
                raise DatasetError(f'{where}: {len(fields)} fields ({line.strip()!r}); a YOLO '
                                   'box is 5: class cx cy w h')
            try:
                label = int(fields[0])
            except ValueError:
                raise DatasetError(f'{where}: class {fields[0]!r} is not an integer') from None
            if not 0 <= label < num_classes:
                raise DatasetError(f'{where}: class {label} is not one of 0-{num_classes - 1}')
            values = []
            for name, text in zip(('cx', 'cy', 'w', 'h'), fields[1:]):
                try:
                    value = float(text)
                except ValueError:
                    raise DatasetError(f'{where}: {name} {text!r} is not a number') from None
                if not 0 <= value <= 1:  # also false for NaN
                    raise DatasetError(f'{where}: {name} {text} is outside [0, 1] (YOLO '
                                       'coordinates are fractions of the image size)')
                values.append(value)
            boxes.append((number, label, tuple(values)))
    return boxes


def yolo_to_xyxy(box: Sequence[float], width: int, height: int) -> List[float]:
    """A normalised YOLO box ``(cx, cy, w, h)`` as pixel corners ``[x1, y1, x2, y2]``.

    Args:
        box (Sequence[float]): Centre and size, as fractions of the image's width and height.
        width (int): The image's width in pixels.
        height (int): The image's height in pixels.

    Returns:
        list[float]: The corners in pixels (not clipped, not rounded).

    Example:
        >>> yolo_to_xyxy((0.5, 0.25, 0.5, 0.25), 640, 480)
        [160.0, 60.0, 480.0, 180.0]
    """
    cx, cy, w, h = box
    return [(cx - w / 2) * width, (cy - h / 2) * height,
            (cx + w / 2) * width, (cy + h / 2) * height]


def image_size(path: str) -> Tuple[int, int]:
    """(width, height) of an image as a decoder shows it, from its header (no pixels read).

    EXIF orientations that turn the image by 90 degrees swap the two, as OpenCV (mmcv's
    ``LoadImageFromFile``) applies them.
    """
    with Image.open(path) as image:
        width, height = image.size
        if image.format == 'JPEG' and image.getexif().get(0x0112) in (5, 6, 7, 8):
            width, height = height, width
    return width, height


@DATASETS.register_module()
class TXLPBCDataset(BaseDetDataset):
    """TXL-PBC's WBC, RBC and platelet boxes, with each image's source (see the module doc).

    Classes are named as in BCCD's VOC files, so that the two datasets concatenate (mmdet's
    ``ConcatDataset`` wants equal metainfo): give ``metainfo=dict(classes=...)`` in BCCD's order
    and the YOLO class ids are mapped to those labels by name.

    Each data info holds, beside mmdet's keys (``img_path``, ``img_id``: the file stem,
    ``height``, ``width``, ``instances``), ``source`` (``'raabin'``, ``'pbc'``, ``'bccd'`` or
    ``'bcd'``), ``bccd_image`` and ``bccd_split`` (the BCCD image a BCCD frame is and its BCCD
    split; ``''`` for other sources) and ``label_path``. Add ``'source'`` to ``PackDetInputs``'
    ``meta_keys`` to have it in the data samples (:class:`~mmcell.evaluation.source_report.
    SourceDetectionReport` reads it there).

    Args:
        data_root (str): The folder holding ``TXL_PBC/`` and ``sources.csv``.
        split (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to ``'train'``.
        sources (Sequence[str], optional): Keep only images of these sources (of
            ``'raabin'``, ``'pbc'``, ``'bccd'``, ``'bcd'``). Defaults to None (all).
        exclude_bccd_splits (Sequence[str]): Leave out the BCCD frames whose BCCD image is in
            these BCCD splits, e.g. ``('test',)`` for a training set of a detector tested on
            BCCD's test split. Defaults to ``()``.
        sources_file (str, optional): ``sources.csv``, relative to ``data_root`` (or absolute).
            None reads no file: the source is then told from the image size alone (as the csv's
            non-BCCD sources were; ``'unknown'`` for other sizes) and ``bccd_image`` is ``''``.
            Defaults to ``'sources.csv'``.
        dataset_dir (str): The folder under ``data_root`` holding ``images/`` and ``labels/``.
            Defaults to ``'TXL_PBC'``.
        duplicates (str): ``'skip'`` leaves out a line repeating an earlier line's class and
            box exactly, with a warning and a count; ``'keep'`` keeps it. Defaults to ``'skip'``
            (see the module doc).
        **kwargs: As mmdet's ``BaseDetDataset`` (``metainfo``, ``pipeline``, ``test_mode``,
            ``filter_cfg=dict(filter_empty_gt=..., min_size=...)``: as mmdet's VOC and COCO
            datasets, ``min_size`` is the least image side kept in training).

    Example:
        >>> import mmcell  # registers the dataset in mmdet's DATASETS
        >>> from mmcell.datasets import TXLPBCDataset
        >>> from mmdet.registry import DATASETS
        >>> TXLPBCDataset.METAINFO['classes'], TXLPBCDataset.SOURCES
        (('WBC', 'RBC', 'Platelets'), ('raabin', 'pbc', 'bccd', 'bcd'))
        >>> # TXL-PBC's training split without the frames of BCCD's test split; needs the
        >>> # dataset under data/txl_pbc.
        >>> cfg = dict(type='TXLPBCDataset', data_root='data/txl_pbc', split='train',
        ...            exclude_bccd_splits=('test',),
        ...            pipeline=[dict(type='LoadImageFromFile'),
        ...                      dict(type='LoadAnnotations', with_bbox=True)])
        >>> dataset = DATASETS.build(cfg)  # doctest: +SKIP
        >>> len(dataset), dataset[0]['source']  # doctest: +SKIP
        (982, 'bccd')
    """

    METAINFO = dict(classes=TXL_PBC_CLASSES,
                    palette=[(106, 0, 228), (220, 20, 60), (0, 182, 0)])  # as bccd.py's
    SOURCES = TXL_PBC_SOURCES
    SPLITS = SPLITS
    DUPLICATES = ('skip', 'keep')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 sources: Optional[Sequence[str]] = None,
                 exclude_bccd_splits: Sequence[str] = (),
                 sources_file: Optional[str] = 'sources.csv',
                 dataset_dir: str = 'TXL_PBC',
                 duplicates: str = 'skip',
                 **kwargs) -> None:
        if duplicates not in self.DUPLICATES:
            raise ValueError(f'duplicates must be one of {self.DUPLICATES}, got {duplicates!r}')
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        if isinstance(sources, str):
            sources = (sources, )
        if sources is not None:
            unknown = sorted(set(sources) - set(TXL_PBC_SOURCES))
            if unknown or not sources:
                raise ValueError(f'sources must be some of {TXL_PBC_SOURCES}, got '
                                 f'{tuple(sources)!r}')
        if isinstance(exclude_bccd_splits, str):
            exclude_bccd_splits = (exclude_bccd_splits, )
        unknown = sorted(set(exclude_bccd_splits) - set(SPLITS))
        if unknown:
            raise ValueError(f'exclude_bccd_splits must be some of BCCD\'s splits {SPLITS}, '
                             f'got {tuple(exclude_bccd_splits)!r}')
        if exclude_bccd_splits and sources_file is None:
            raise ValueError('exclude_bccd_splits needs sources_file (sources.csv gives the '
                             'BCCD split of each BCCD frame)')
        self.split = split
        self.sources = tuple(sources) if sources is not None else None
        self.exclude_bccd_splits = tuple(exclude_bccd_splits)
        self.sources_file = sources_file
        self.dataset_dir = dataset_dir
        self.duplicates = duplicates
        super().__init__(data_root=data_root, **kwargs)

    # ------------------------------------------------------------------ reading
    def load_data_list(self) -> List[dict]:
        """The split's data infos, files and lines checked (see the module doc)."""
        root = osp.join(self.data_root, self.dataset_dir)
        image_dir = osp.join(root, 'images', self.split)
        label_dir = osp.join(root, 'labels', self.split)
        for folder in (image_dir, label_dir):
            if not osp.isdir(folder):
                raise DatasetError(f'{folder}: no such folder (TXL-PBC\'s layout is '
                                   f'{self.dataset_dir}/images/<split>/ and '
                                   f'{self.dataset_dir}/labels/<split>/)')
        images = {}
        for name in sorted(os.listdir(image_dir)):
            stem, ext = osp.splitext(name)
            if ext.lower() in IMAGE_EXTENSIONS and osp.isfile(osp.join(image_dir, name)):
                if stem in images:
                    raise DatasetError(f'{osp.join(image_dir, name)}: a second image named '
                                       f'{stem} (beside {images[stem]})')
                images[stem] = name
        labels = sorted(name[:-4] for name in os.listdir(label_dir)
                        if name.endswith('.txt') and name != 'classes.txt')
        for stem in labels:
            if stem not in images:
                raise DatasetError(f'{osp.join(label_dir, stem + ".txt")}: label file without '
                                   f'an image (no {stem}.jpg or other image in {image_dir})')
        unlabelled = sorted(images[stem] for stem in set(images) - set(labels))
        if unlabelled:
            shown = ', '.join(unlabelled[:SHOWN_NAMES]) + (
                ', ...' if len(unlabelled) > SHOWN_NAMES else '')
            print_log(f'{type(self).__name__} ({self.split}): {len(unlabelled)} image(s) '
                      f'without a label file in {label_dir} skipped (not taken as images '
                      f'without cells): {shown}', logger='current', level=30)
        self.unlabelled_images = unlabelled

        self._labels_by_name = self._cat2label()
        table = self._read_sources() if self.sources_file is not None else None
        self._fixes = Counter()
        dropped = Counter()
        data_list = []
        for stem in labels:
            img_path = osp.join(image_dir, images[stem])
            problem = check_image_file(img_path)
            if problem:
                raise DatasetError(f'{img_path} {problem}')
            width, height = image_size(img_path)
            if table is None:
                row = dict(source=SOURCE_SIZES.get((width, height), 'unknown'), bccd_image='',
                           bccd_split='')
            else:
                row = table.get(images[stem])
                if row is None:
                    raise DatasetError(f'{img_path}: not listed in {self._sources_path} (split '
                                       f'{self.split}): its source is unknown')
                if row['size'] and row['size'] != f'{width}x{height}':
                    raise DatasetError(f'{img_path}: {width}x{height} pixels, but '
                                       f'{self._sources_path} line {row["line"]} says '
                                       f'{row["size"]}')
            if self.sources is not None and row['source'] not in self.sources:
                dropped[f'of sources other than {", ".join(self.sources)}'] += 1
                continue
            if row['source'] == 'bccd' and row['bccd_split'] in self.exclude_bccd_splits:
                dropped[f'BCCD frames in BCCD\'s {row["bccd_split"]} split'] += 1
                continue
            label_path = osp.join(label_dir, stem + '.txt')
            data_list.append(dict(
                img_path=img_path, img_id=stem, label_path=label_path, height=height,
                width=width, source=row['source'], bccd_image=row['bccd_image'],
                bccd_split=row['bccd_split'],
                instances=self._instances(label_path, width, height)))
        if not data_list:  # mmengine cannot hold an empty dataset: say why it is
            raise DatasetError(f'{image_dir}: no labelled image left of {len(images)} image(s)'
                               + (f' (left out: {dict(dropped)})' if dropped else ''))
        counts = Counter(info['source'] for info in data_list)
        message = (f'{type(self).__name__} ({self.split}): {len(data_list)} images ('
                   + ', '.join(f'{source} {counts[source]}' for source in sorted(counts)) + ')')
        if unlabelled:
            dropped['images without a label file'] = len(unlabelled)
        if dropped:
            message += '; left out ' + ', '.join(f'{n} {why}' for why, n in sorted(dropped.items()))
        if self._fixes:
            message += '; ' + ', '.join(f'{n} {what}' for what, n in sorted(self._fixes.items()))
        print_log(message, logger='current')
        return data_list

    def _read_sources(self) -> Dict[str, dict]:
        """This split's rows of ``sources.csv`` by file name, each with its line number."""
        path = self.sources_file
        if not osp.isabs(path):
            path = osp.join(self.data_root, path)
        self._sources_path = path
        if not osp.isfile(path):
            raise DatasetError(f'{path}: not found (TXL-PBC\'s sources.csv; sources_file=None '
                               'tells sources by image size instead)')
        table = {}
        with open(path, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            missing = {'split', 'file', 'source', 'bccd_image', 'bccd_split'} - set(
                reader.fieldnames or ())
            if missing:
                raise DatasetError(f'{path}: no column(s) {", ".join(sorted(missing))}')
            for row in reader:
                if row['split'] != self.split:
                    continue
                line = reader.line_num
                if row['source'] not in TXL_PBC_SOURCES:
                    raise DatasetError(f'{path}, line {line}: source {row["source"]!r} is not one '
                                       f'of {TXL_PBC_SOURCES}')
                if row['source'] == 'bccd' and row['bccd_split'] not in SPLITS:
                    raise DatasetError(f'{path}, line {line}: a BCCD frame whose bccd_split '
                                       f'{row["bccd_split"]!r} is not one of {SPLITS}')
                table[row['file']] = dict(source=row['source'], size=row.get('size') or '',
                                          bccd_image=row['bccd_image'] or '',
                                          bccd_split=row['bccd_split'] or '', line=line)
        return table

    def _instances(self, label_path: str, width: int, height: int) -> List[dict]:
        cat2label = self._labels_by_name
        instances = []
        first_lines = {}
        for number, label, box in read_yolo_labels(label_path, len(TXL_PBC_CLASSES)):
            where = f'{label_path}, line {number}'
            if (label, box) in first_lines and self.duplicates == 'skip':
                self._fixes['exact duplicate boxes skipped'] += 1
                print_log(f'{where}: skipped: the same box as line {first_lines[label, box]}',
                          logger='current', level=30)
                continue
            first_lines.setdefault((label, box), number)
            corners = yolo_to_xyxy(box, width, height)
            clipped = [min(max(corners[0], 0.), width), min(max(corners[1], 0.), height),
                       min(max(corners[2], 0.), width), min(max(corners[3], 0.), height)]
            if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                self._fixes['boxes of zero area skipped'] += 1
                print_log(f'{where}: skipped: box {box} has no area', logger='current',
                          level=30)
                continue
            # Six-decimal fractions put sides up to ~0.001 px past the edge: clipped quietly.
            if max(abs(a - b) for a, b in zip(clipped, corners)) > CLIP_TOLERANCE:
                self._fixes['boxes clipped to their image'] += 1
                print_log(f'{where}: box {box} reaches outside the {width}x{height} image; '
                          'clipped', logger='current', level=30)
            instances.append(dict(bbox=clipped, bbox_label=cat2label[TXL_PBC_CLASSES[label]],
                                  ignore_flag=0))
        return instances

    def _cat2label(self) -> Dict[str, int]:
        """Class name to label, in the order of ``metainfo['classes']`` (any order of the three)."""
        classes = tuple(self.metainfo['classes'])
        if sorted(classes) != sorted(TXL_PBC_CLASSES):
            raise ValueError(f'{type(self).__name__}: metainfo classes must be {TXL_PBC_CLASSES} '
                             f'in some order (the YOLO ids are mapped by name), got {classes}')
        return {name: label for label, name in enumerate(classes)}

    def filter_data(self) -> List[dict]:
        """In training, leave out images without boxes (``filter_empty_gt``) and images with a
        side under ``min_size``, as mmdet's VOC and COCO datasets do; all in ``test_mode``."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        return [info for info in self.data_list
                if not (filter_empty_gt and not info['instances'])
                and min(info['width'], info['height']) >= min_size]
