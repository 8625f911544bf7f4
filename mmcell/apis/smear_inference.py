"""The smear pipeline behind one inferencer: detect cells, classify the white cells, count them."""
import copy
import csv
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.infer import BaseInferencer

from mmcell.structures import crop_cell
from mmcell.uncertainty import Differential, white_cell_differential
from mmcell.utils import load_config, track
from .cell_classification import CellClassificationInferencer
from .model import build_model
from .tiled_inference import inference_detector_tiled

__all__ = ['SmearInferencer']

UNIDENTIFIED = 'unidentified'


def _load_field(item: Union[str, np.ndarray]) -> dict:
    """A field as the pipeline carries it: its BGR image, or why it could not be read."""
    if isinstance(item, np.ndarray):
        return dict(img=item, img_path=None, error=None)
    try:
        img = mmcv.imread(str(item))
        error = None if img is not None else 'not an image, or truncated'
    except Exception as err:  # cv2/PIL raise many kinds on a broken file
        img, error = None, str(err)
    return dict(img=img, img_path=str(item), error=error)


class SmearInferencer(BaseInferencer):
    """Detect the cells of smear fields, classify each white cell, count them.

    The detector (an mmdet config and checkpoint) finds the cells of each field, whole or tile by
    tile; each box of ``white_class`` is cropped as single-cell datasets frame a white cell
    (:func:`mmcell.structures.crop_cell`) and the crops of a batch of fields are classified
    together by a :class:`CellClassificationInferencer` (with its trust state: cells it cannot
    trust are ``unidentified``). The results give, per field, the cells (box, detector label and
    score; for white cells the class, its probability and the crop) and the counts, and for all
    fields together the white-cell differential (:func:`mmcell.uncertainty.
    white_cell_differential`: percentages over leukocytes with exact 95% intervals, nucleated red
    cells per 100 white cells, platelets and unidentified cells apart). With ``out_dir`` it
    writes the CSV/JSON files, the field pictures and, with ``report=True``, the review page.

    Without a classifier it detects and counts only.

    Args:
        detector (str | Path | mmengine.Config): The detector's config.
        detector_weights (str): Its checkpoint (it names the classes).
        classifier (str | Path | mmengine.Config, optional): The white-cell classifier's config.
            Defaults to None (detection only).
        classifier_weights (str, optional): Its checkpoint. Defaults to None.
        device (str): Defaults to ``'cpu'``.
        trust (str, optional): The classifier's trust state, see
            :class:`CellClassificationInferencer`. Defaults to ``'auto'``.
        show_progress (bool): Show progress over the batches (:func:`mmcell.utils.track`).
            Defaults to True.

    Example:
        >>> from mmcell.apis import SmearInferencer
        >>> smear = SmearInferencer(  # doctest: +SKIP
        ...     'configs/lite_fpn/faster_rcnn_lite0_fpn_bccd-txl.py', 'det.pth',
        ...     'configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py', 'cls.pth')
        >>> result = smear(['field_1.jpg', 'field_2.jpg'],  # doctest: +SKIP
        ...                out_dir='work_dirs/infer', report=True)
        >>> print(result['differential'].table())  # doctest: +SKIP
    """

    forward_kwargs = {'score_thr', 'tile_size', 'overlap', 'white_class', 'context', 'coverage',
                      'cell_batch_size'}
    visualize_kwargs = {'pictures'}
    postprocess_kwargs = {'out_dir', 'correct_counts', 'report'}

    def __init__(self,
                 detector: Union[str, Path, Config],
                 detector_weights: str,
                 classifier: Optional[Union[str, Path, Config]] = None,
                 classifier_weights: Optional[str] = None,
                 device: str = 'cpu',
                 trust: Optional[str] = 'auto',
                 show_progress: bool = True) -> None:
        det_cfg = detector if isinstance(detector, Config) else load_config(detector)
        self.names = dict(detector=f'{getattr(det_cfg, "filename", detector)} {detector_weights}',
                          classifier='none')
        super().__init__(model=det_cfg, weights=detector_weights, device=device, scope='mmdet',
                         show_progress=show_progress)
        self.detector_classes = tuple((self.model.dataset_meta or {}).get('classes') or ())
        if not self.detector_classes:
            raise ValueError(f'{detector_weights} does not say its classes (no dataset_meta): '
                             'load a checkpoint saved by a training run')
        self.timing = dict(fields=0, detection_s=0.0, cells=0, classification_s=0.0)
        self.classifier = None
        if classifier is not None:
            self.classifier = CellClassificationInferencer(classifier, classifier_weights,
                                                           device=device, trust=trust)
            if not self.classifier.classes:
                raise ValueError(f'{classifier_weights} does not say its classes (no '
                                 'dataset_meta): load a checkpoint saved by a training run')
            self.names['classifier'] = (f'{getattr(self.classifier.config, "filename", classifier)}'
                                        f' {classifier_weights}')

    # -- what BaseInferencer builds from the config ------------------------------------------

    def _init_model(self, cfg: Config, weights: Optional[str], device: str = 'cpu'
                    ) -> torch.nn.Module:
        """The detector, built and loaded as :func:`mmcell.apis.build_model` does."""
        return build_model(cfg, weights, device)

    def _init_pipeline(self, cfg: Config) -> Callable:
        """Reading a field; the detector's own test pipeline is applied in :meth:`forward`."""
        from mmdet.registry import TRANSFORMS
        from mmdet.utils import get_test_pipeline_cfg
        steps = copy.deepcopy(get_test_pipeline_cfg(cfg))
        steps[0] = dict(type='mmdet.LoadImageFromNDArray')
        steps = [s for s in steps if s['type'].split('.')[-1] != 'LoadAnnotations']
        self.detector_pipeline = Compose([TRANSFORMS.build(step) for step in steps])
        return _load_field

    def _init_collate(self, cfg: Config) -> Callable:
        return list

    def _init_visualizer(self, cfg: Config) -> None:
        return None

    # -- the four steps ------------------------------------------------------------------------

    def _detect(self, images: Sequence[np.ndarray]) -> List[Tuple[np.ndarray, ...]]:
        """Boxes, scores and labels of each image, detected as one batch."""
        batch = pseudo_collate([self.detector_pipeline(dict(img=img, img_id=k))
                                for k, img in enumerate(images)])
        found = []
        for sample in self.model.test_step(batch):
            pred = sample.pred_instances
            found.append((pred.bboxes.cpu().numpy(), pred.scores.cpu().numpy(),
                          pred.labels.cpu().numpy()))
        return found

    @torch.no_grad()
    def forward(self,
                inputs: List[dict],
                score_thr: float = 0.5,
                tile_size: Optional[Tuple[int, int]] = None,
                overlap: float = 0.3,
                white_class: str = 'WBC',
                context: float = 1.9,
                coverage: Optional[float] = None,
                cell_batch_size: int = 8) -> List[dict]:
        """Detect the cells of a batch of fields and classify their white cells together.

        Args:
            inputs (list[dict]): Fields from :meth:`preprocess` (``img``, ``img_path``,
                ``error``).
            score_thr (float): Detection score threshold. Defaults to 0.5.
            tile_size (tuple[int, int], optional): (height, width): fields larger than this
                are detected tile by tile (:func:`mmcell.apis.inference_detector_tiled`).
                Defaults to None (whole fields).
            overlap (float): Tile overlap. Defaults to 0.3.
            white_class (str): The detector class whose cells are classified. Defaults to
                ``'WBC'``.
            context (float): White-cell crop side over the box's longer side. Defaults to 1.9.
            coverage (float, optional): Coverage of the classifier's conformal sets.
                Defaults to None (its trust state's).
            cell_batch_size (int): White-cell crops per classifier batch. Defaults to 8 (on 2
                CPU cores 8-16 crops a batch ran fastest; larger batches ran slower).

        Returns:
            list[dict]: Per field ``img_path``, ``img``, ``error`` (None, or why it was
            skipped), ``cells`` (dicts of ``box``, ``label``, ``score``; white cells also
            ``cell_class``, ``cell_score``, ``unidentified``), ``crops`` (one per white cell)
            and ``counts``.
        """
        if white_class not in self.detector_classes:
            raise ValueError(f'white_class {white_class!r} is not one of the detector\'s classes '
                             f'{self.detector_classes}')
        started = time.perf_counter()
        fields = [f for f in inputs if f['error'] is None]
        whole = [f for f in fields if tile_size is None
                 or (f['img'].shape[0] <= tile_size[0] and f['img'].shape[1] <= tile_size[1])]
        found = dict(zip(map(id, whole), self._detect([f['img'] for f in whole]) if whole else []))
        for field in fields:
            if id(field) not in found:
                pred = inference_detector_tiled(
                    lambda tile: self._detect([np.ascontiguousarray(tile)])[0], field['img'],
                    tile_size, overlap)
                found[id(field)] = (pred.bboxes.numpy(), pred.scores.numpy(), pred.labels.numpy())
        self.timing['detection_s'] += time.perf_counter() - started
        self.timing['fields'] += len(fields)
        whites = []
        for field in fields:
            boxes, scores, labels = found[id(field)]
            order = [k for k in np.argsort(-scores, kind='stable') if scores[k] >= score_thr]
            field['cells'] = [dict(box=boxes[k].astype(float).tolist(),
                                   label=self.detector_classes[labels[k]],
                                   score=float(scores[k])) for k in order]
            field['crops'] = []
            for cell in field['cells']:
                if self.classifier is not None and cell['label'] == white_class:
                    field['crops'].append(crop_cell(field['img'], cell['box'], context))
                    whites.append(cell)
        if whites:
            started = time.perf_counter()
            crops = [crop for field in fields for crop in field['crops']]
            results = self.classifier.classify(crops, cell_batch_size, coverage)
            self.timing['classification_s'] += time.perf_counter() - started
            self.timing['cells'] += len(crops)
            for cell, result in zip(whites, results):
                cell.update(cell_class=UNIDENTIFIED if result['unidentified']
                            else result['pred_class'], cell_score=result['pred_score'],
                            unidentified=result['unidentified'])
        for field in fields:
            counts = Counter(cell['label'] for cell in field['cells'])
            field['counts'] = {name: counts[name] for name in self.detector_classes}
            if self.classifier is not None:
                kinds = Counter(c['cell_class'] for c in field['cells'] if 'cell_class' in c)
                field['counts'].update({f'{white_class}:{name}': kinds[name] for name in
                                        (*self.classifier.classes, UNIDENTIFIED)})
        return list(inputs)

    def visualize(self, inputs: list, preds: List[dict],
                  pictures: bool = True) -> Optional[List[np.ndarray]]:
        """Draw each field with its cells into ``out_dir/fields/`` (the call's ``out_dir``);
        with the call's ``report`` also save the white-cell crops for the review page.

        Args:
            inputs (list): The fields as given.
            preds (list[dict]): From :meth:`forward`.
            pictures (bool): Draw the fields. Defaults to True (a report draws them anyway).

        Returns:
            list[str] | None: The pictures' paths, relative to ``out_dir``, of the fields that
            were read; None without ``out_dir`` or pictures.
        """
        from mmcell.review import SmearRun
        out_dir, report, white_class = (self._call[k] for k in ('out_dir', 'report',
                                                                 'white_class'))
        self.run = None
        if out_dir is None or not (pictures or report):
            return None
        self.run = SmearRun(out_dir, self.classifier.classes if self.classifier else [],
                            white_class, crops=report, classifier=self.names['classifier'],
                            detector=self.names['detector'])
        for k, field in enumerate(preds):
            if field['error'] is not None:
                self.run.add_skipped(field['img_path'], field['error'])
            else:
                self.run.add_field(field['img_path'] or f'array_{k}', field['img'],
                                   field['cells'], crops=field['crops'])
        return [field['picture'] for field in self.run.record['fields']]

    def __call__(self, inputs: Any, return_datasamples: bool = False, batch_size: int = 1,
                 **kwargs) -> Dict:
        """Run the smear pipeline on fields (paths or BGR arrays).

        Args:
            inputs (str | np.ndarray | list): A field, a list of fields, or a folder.
            return_datasamples (bool): Not supported (the results are dicts). Defaults to False.
            batch_size (int): Fields per detector batch. Defaults to 1 (on CPU a batch of 4
                fields ran slower than 4 batches of 1; white cells are classified in batches of
                ``cell_batch_size`` across the fields of a batch).
            **kwargs: :meth:`forward`'s options (``score_thr``, ``tile_size``, ``overlap``,
                ``white_class``, ``context``, ``coverage``, ``cell_batch_size``),
                :meth:`visualize`'s (``out_dir``,
                ``pictures``, ``report``) and :meth:`postprocess`'s (``correct_counts``).

        Returns:
            dict: See :meth:`postprocess`.
        """
        if return_datasamples:
            raise ValueError('SmearInferencer gives dicts, not data samples')
        if kwargs.get('report') and self.classifier is None:
            raise ValueError('report=True reviews white-cell classes: give a classifier')
        if kwargs.get('correct_counts'):
            self._confusion()  # refuse before the work, not after it
        self._call = dict(out_dir=kwargs.get('out_dir'), report=kwargs.get('report', False),
                          white_class=kwargs.get('white_class', 'WBC'))
        self.timing = dict(fields=0, detection_s=0.0, cells=0, classification_s=0.0)
        # BaseInferencer.__call__, with mmcell's progress display (plain lines in a log).
        preprocess_kwargs, forward_kwargs, visualize_kwargs, postprocess_kwargs = \
            self._dispatch_kwargs(**kwargs)
        fields = self._inputs_to_list(inputs)
        batches = self.preprocess(fields, batch_size=batch_size, **preprocess_kwargs)
        if self.show_progress:
            batches = track(batches, total=math.ceil(len(fields) / batch_size),
                            description=f'smear pipeline on {len(fields)} fields, batches of '
                            f'{batch_size}')
        preds = [pred for batch in batches for pred in self.forward(batch, **forward_kwargs)]
        visualization = self.visualize(fields, preds, **visualize_kwargs)
        return self.postprocess(preds, visualization, False, **postprocess_kwargs)

    def postprocess(self, preds: List[dict], visualization: Optional[List[np.ndarray]],
                    return_datasamples: bool = False, out_dir: Optional[str] = None,
                    correct_counts: bool = False, report: bool = False) -> Dict:
        """Gather the fields' results and the differential; write them to ``out_dir``.

        Args:
            preds (list[dict]): From :meth:`forward`.
            visualization (list[np.ndarray], optional): From :meth:`visualize`.
            return_datasamples (bool): Unused (see :meth:`__call__`).
            out_dir (str, optional): Write ``cells.csv``/``.json`` (``detections.*`` without a
                classifier), ``counts.csv``, ``differential.csv``, ``timing.json`` (the
                ``timing`` below) and, with ``report``, the review page. Defaults to None
                (nothing written).
            correct_counts (bool): Also correct the differential for the classifier's
                confusions on its validation split (needs its trust state). Defaults to False.
            report (bool): Write the review page (``review.html``, ``run.json``). Defaults to
                False.

        Returns:
            dict: ``fields`` (per field: ``img_path``, ``cells``, ``crops``, ``counts``),
            ``skipped`` (``(path, reason)`` of fields that could not be read), ``differential``
            (:class:`~mmcell.uncertainty.Differential` of all fields' white cells, None without
            a classifier), ``visualization`` (the field pictures written, see
            :meth:`visualize`) and ``timing`` (``fields`` and ``detection_s``, the seconds spent
            detecting them; ``cells`` and ``classification_s``, the white cells classified and
            the seconds that took).
        """
        fields = [dict(img_path=f['img_path'], cells=f['cells'], crops=f['crops'],
                       counts=f['counts']) for f in preds if f['error'] is None]
        skipped = [(f['img_path'], f['error']) for f in preds if f['error'] is not None]
        for path, reason in skipped:
            print(f'warning: skipped {path}: {reason}', file=sys.stderr)
        differential = None
        if self.classifier is not None:
            differential = white_cell_differential(
                [c['cell_class'] for f in fields for c in f['cells'] if 'cell_class' in c],
                self.classifier.classes, UNIDENTIFIED,
                confusion=self._confusion() if correct_counts else None)
        result = dict(fields=fields, skipped=skipped, differential=differential,
                      visualization=visualization, timing=dict(self.timing))
        if out_dir is not None:
            self._write(Path(out_dir), result, report)
        return result

    # -- files -----------------------------------------------------------------------------

    def _confusion(self):
        state = None if self.classifier is None else self.classifier.trust_state
        if state is None:
            raise ValueError('correct_counts needs a trust state beside the classifier\'s '
                             f'checkpoint ({self.names["classifier"]}; fit it with '
                             'tools/analysis_tools/fit_trust.py CONFIG CHECKPOINT)')
        if state.confusion is None:
            raise ValueError(f'the trust state {state.source} has no validation confusion '
                             'matrix (fitted by an older mmcell): fit it again with fit_trust.py')
        coverage = self.classifier.coverage
        if coverage is not None and coverage != state.coverage:
            raise ValueError(f'the confusion matrix of {state.source} was counted at coverage '
                             f'{state.coverage:g}, this run asks {coverage:g}: fit the state at '
                             f'{coverage:g} (fit_trust.py --coverage) or leave coverage out')
        return state.confusion

    def _write(self, out_dir: Path, result: Dict, report: bool) -> None:
        from mmcell.review import write_review_page
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = 'detections' if self.classifier is None else 'cells'
        cells = [dict(image=f['img_path'], **c) for f in result['fields'] for c in f['cells']]
        header = ['image', 'label', 'score', 'x1', 'y1', 'x2', 'y2']
        rows = [[c['image'], c['label'], f"{c['score']:.4f}", *(f'{v:.1f}' for v in c['box'])]
                for c in cells]
        if self.classifier is not None:  # white cells: their class; other cells: blank
            header += ['cell_class', 'cell_score']
            for row, c in zip(rows, cells):
                row += ([c['cell_class'], f"{c['cell_score']:.4f}"] if 'cell_class' in c
                        else ['', ''])
        _write_csv(out_dir / f'{stem}.csv', header, rows)
        counts = [dict(image=f['img_path'], **f['counts']) for f in result['fields']]
        (out_dir / f'{stem}.json').write_text(json.dumps(dict(cells=cells, counts=counts),
                                                         indent=1))
        header = list(counts[0]) if counts else ['image', *self.detector_classes]
        _write_csv(out_dir / 'counts.csv', header, [[c[k] for k in header] for c in counts])
        if result['differential'] is not None:
            _write_differential(out_dir / 'differential.csv', result['differential'])
        (out_dir / 'timing.json').write_text(json.dumps(result['timing'], indent=1))
        if report:
            write_review_page(self.run.write(), out_dir)
        else:  # a page left by an earlier report here would show this run's pictures
            for name in ('review.html', 'run.json'):
                if (out_dir / name).is_file():
                    (out_dir / name).unlink()


def _write_csv(path: Path, header: List[str], rows: List[list]) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _write_differential(path: Path, diff: Differential) -> None:
    """The differential as CSV: white-cell rows (percent of identified white cells), then the
    unidentified cells, nucleated red cells (per 100 white cells) and cells apart."""
    corrected = any(row.corrected_count is not None for row in diff.rows)
    header = ['class', 'count', 'percent', 'ci95_low', 'ci95_high', 'per_100_wbc']
    header += ['corrected_count', 'corrected_percent'] if corrected else []
    rows = [[r.name, r.count, f'{r.percent:.1f}', f'{r.ci_low:.1f}', f'{r.ci_high:.1f}', '']
            + ([f'{r.corrected_count:.1f}', f'{r.corrected_percent:.1f}'] if corrected else [])
            for r in diff.rows]
    blank = ['', ''] if corrected else []
    rows.append([UNIDENTIFIED, diff.unidentified, f'{diff.unidentified_percent:.1f}',
                 *(f'{v:.1f}' for v in diff.unidentified_ci), ''] + blank)
    for name, count in diff.nucleated_red.items():
        per_100 = 100 * count / diff.identified if diff.identified else float('nan')
        rows.append([name, count, '', '', '', f'{per_100:.1f}'] + blank)
    for name, count in diff.not_white.items():
        rows.append([f'{name} (not a white cell)', count, '', '', '', ''] + blank)
    _write_csv(path, header, rows)
