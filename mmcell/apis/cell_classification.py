"""Classify cell images, with the trust state of the checkpoint applied: mmpretrain's inferencer,
extended."""
from pathlib import Path
from typing import List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmpretrain.apis import ImageClassificationInferencer
from mmpretrain.structures import DataSample

from mmcell.compat import safe_checkpoint_loading
from mmcell.uncertainty import TrustState, final_layer, model_fingerprint, trust_state_path
from mmcell.utils import load_config

__all__ = ['CellClassificationInferencer']


class CellClassificationInferencer(ImageClassificationInferencer):
    """mmpretrain's ``ImageClassificationInferencer`` with the checkpoint's trust state applied.

    A trust state (:class:`mmcell.uncertainty.TrustState`, fitted by
    ``tools/analysis_tools/fit_trust.py`` and saved beside the checkpoint as
    ``epoch_N.trust.pth``) makes :meth:`forward` return calibrated probabilities, and
    :meth:`postprocess` add each cell's conformal prediction set and whether it is
    ``unidentified`` (its set is not exactly one class, or a trust score is below the fitted
    threshold). Without one the results are mmpretrain's, with ``unidentified`` False.
    Checkpoints load through mmcell's safe loader (``torch.load(weights_only=True)``).

    Args:
        model (str | Path | mmengine.Config): The classifier's config.
        pretrained (str, optional): Its weights. Defaults to None (the config's
            initialisation: random, or ImageNet weights for a pretrained backbone).
        device (str, optional): Defaults to ``'cpu'``.
        trust (str, optional): A trust state file; ``'auto'``: the one beside ``pretrained`` if
            there is one; None: none. Checked against the model (classes and final-layer
            weights). Defaults to ``'auto'``.
        coverage (float, optional): Coverage of the conformal sets. Defaults to None (the
            state's own, e.g. 0.95).

    Raises:
        FileNotFoundError: ``trust`` names a file that does not exist.
        ValueError: The trust state was fitted for another model or class list (both named),
            or the checkpoint does not say its classes while a trust state is given.

    Example:
        >>> from mmcell.apis import CellClassificationInferencer
        >>> classifier = CellClassificationInferencer(  # doctest: +SKIP
        ...     'configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py',
        ...     'work_dirs/efficientnet-lite0_pbc_stain/epoch_6.pth')
        >>> classifier(['cell_1.jpg', 'cell_2.jpg'], batch_size=32)[0]  # doctest: +SKIP
        {'pred_scores': array([...]), 'pred_label': 6, 'pred_score': 0.97,
         'pred_class': 'neutrophil', 'unidentified': False, 'prediction_set': ['neutrophil']}
    """

    forward_kwargs = {'coverage'}

    def __init__(self,
                 model: Union[str, Path, Config],
                 pretrained: Optional[str] = None,
                 device: Optional[str] = 'cpu',
                 trust: Optional[str] = 'auto',
                 coverage: Optional[float] = None) -> None:
        cfg = model if isinstance(model, Config) else load_config(model)
        with safe_checkpoint_loading():
            super().__init__(model=cfg, pretrained=pretrained or False, device=device)
        self.coverage = coverage
        if trust == 'auto':
            found = pretrained and trust_state_path(pretrained)
            trust = str(found) if found and found.is_file() else None
        self.trust_state: Optional[TrustState] = None
        if trust is not None:
            if not self.classes:
                raise ValueError(f'{pretrained or "the model"} does not say its classes (no '
                                 'dataset_meta in the checkpoint): a trust state needs them')
            state = TrustState.load(trust)
            state.check(model_fingerprint(self.model, tuple(self.classes),
                                          getattr(cfg, 'filename', None) or str(model)))
            self.trust_state = state

    @torch.no_grad()
    def forward(self, inputs: dict, coverage: Optional[float] = None) -> List[DataSample]:
        """Run the model on a batch; with a trust state, apply it.

        Args:
            inputs (dict): A collated batch from :meth:`preprocess`.
            coverage (float, optional): Coverage of the conformal sets. Defaults to None (the
                inferencer's ``coverage``).

        Returns:
            list[DataSample]: ``pred_score`` (calibrated with a trust state), and with a trust
            state ``prediction_set`` (C,) bool and ``unidentified`` (bool).
        """
        if self.trust_state is None:
            return self.model.test_step(inputs)
        data = self.model.data_preprocessor(inputs, False)
        head = self.model.head
        feats = self.model.extract_feat(data['inputs'])
        pre_logits = head.pre_logits(feats)
        layer = final_layer(head)
        logits = layer(pre_logits) if layer is not None else head(feats)
        applied = self.trust_state.apply(logits.float().cpu(), pre_logits.float().flatten(1).cpu(),
                                         coverage if coverage is not None else self.coverage)
        samples = data.get('data_samples') or [DataSample() for _ in range(len(logits))]
        for sample, probs, sets, out in zip(samples, applied['probs'],
                                            applied['prediction_set'], applied['unidentified']):
            sample.set_pred_score(probs)
            sample.set_field(sets, 'prediction_set', field_type='metainfo')
            sample.set_field(bool(out), 'unidentified', field_type='metainfo')
        return samples

    def postprocess(self, preds: List[DataSample], visualization: Optional[List[np.ndarray]],
                    return_datasamples: bool = False) -> Union[List[dict], List[DataSample]]:
        """mmpretrain's results, with ``unidentified`` and (with a trust state)
        ``prediction_set`` (class names) per image."""
        results = super().postprocess(preds, visualization, return_datasamples)
        if return_datasamples:
            return results
        for result, sample in zip(results, preds):
            result['unidentified'] = bool(sample.get('unidentified', False))
            if 'prediction_set' in sample and self.classes is not None:
                result['prediction_set'] = [
                    self.classes[k] for k in torch.nonzero(sample.prediction_set).flatten()]
        return results

    def classify(self, images: List[Union[str, np.ndarray]], batch_size: int = 32,
                 coverage: Optional[float] = None) -> List[dict]:
        """Classify images in batches without a progress display (for callers with their own).

        Args:
            images (list[str | np.ndarray]): Paths or BGR arrays.
            batch_size (int): Defaults to 32.
            coverage (float, optional): As for :meth:`forward`. Defaults to None.

        Returns:
            list[dict]: One result per image, as ``__call__`` gives them.
        """
        preds = []
        for batch in self.preprocess(list(images), batch_size=batch_size):
            preds.extend(self.forward(batch, coverage))
        return self.postprocess(preds, None)
