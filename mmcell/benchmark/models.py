"""The models the benchmark compares, and how each is built for a measurement.

:data:`MODELS` names each model, its task and where it comes from: an mmcell config (built with
:func:`mmcell.apis.build_model`, each model with its own initialisation, which training starts
from), a model dict, or Hugging Face's CvT-13; the ``-cpu`` models are converted for CPU
inference (:func:`mmcell.engine.convert_for_cpu_inference`), as mmcell's tools run them.
:func:`build` gives a model with the two steps the worker times: inference on a batch and a scalar
loss for the training step.

Nothing from mmcell, mmpretrain or mmdet is imported at module level: Hugging Face CvT-13 is built
in the side environment that has transformers, where mmpretrain cannot be imported.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F

__all__ = ['BenchmarkModel', 'INPUT_SHAPES', 'MODELS', 'NUM_CLASSES', 'build', 'model_config']

# The configs are read from the checkout this package is in (mmcell is installed editable).
ROOT = Path(__file__).resolve().parents[2]
NUM_CLASSES = 10
INPUT_SHAPES = {'cls': (224, 224), 'det': (480, 640)}  # (H, W) by task
SCOPES = {'cls': 'mmpretrain', 'det': 'mmdet'}  # the scope of a model given as a dict


@dataclass(frozen=True)
class BenchmarkModel:
    """One model of the benchmark.

    Attributes:
        task (str): ``'cls'`` (224x224 inputs) or ``'det'`` (640x480).
        config (str, optional): Its config, relative to the repository root.
        model (dict, optional): Or its model dict (mmpretrain's or mmdet's, by ``task``).
        cfg_options (dict): Changes to the config, as ``--cfg-options`` gives them.
        hf (bool): Hugging Face transformers' CvT-13 with CvT-13's default sizes.
        cpu_inference (bool): Converted by :func:`mmcell.engine.convert_for_cpu_inference`
            once built, as mmcell's tools run inference on CPU; inference is timed, not
            training.
        input_shape (tuple[int, int], optional): Its input (H, W) where it is not the task's.
    """
    task: str
    config: Optional[str] = None
    model: Optional[dict] = None
    cfg_options: dict = field(default_factory=dict)
    hf: bool = False
    cpu_inference: bool = False
    input_shape: Optional[Tuple[int, int]] = None


DEIT_S = dict(type='ImageClassifier',
              backbone=dict(type='VisionTransformer', arch='deit-small', img_size=224,
                            patch_size=16),
              neck=None, head=dict(type='VisionTransformerClsHead', num_classes=NUM_CLASSES,
                                   in_channels=384))
MODELS = {
    'cellvit': BenchmarkModel('cls', config='configs/cellvit_munich.py'),
    'cellvit-cpu': BenchmarkModel('cls', config='configs/cellvit_munich.py', cpu_inference=True),
    'cellvit-cls-head': BenchmarkModel('cls', config='configs/cellvit/cellvit_munich_cls-head.py'),
    'cellvit-cls-head-cpu': BenchmarkModel(
        'cls', config='configs/cellvit/cellvit_munich_cls-head.py', cpu_inference=True),
    'hf-cvt-13': BenchmarkModel('cls', hf=True),
    'deit-s': BenchmarkModel('cls', model=DEIT_S),
    'swin-t': BenchmarkModel('cls', config='configs/baselines/swin-t_munich.py'),
    'vit-b16': BenchmarkModel('cls', config='configs/baselines/vit-b16_munich.py'),
    'resnet50': BenchmarkModel('cls', config='configs/baselines/resnet50_munich.py'),
    'efficientnet-lite0': BenchmarkModel(
        'cls', config='configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py',
        cfg_options={'model.head.num_classes': NUM_CLASSES}),
    # The smear pipeline's default white-cell classifier at the size it classifies crops at.
    'efficientnet-lite0-128': BenchmarkModel(
        'cls', config='configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py',
        cfg_options={'model.head.num_classes': NUM_CLASSES}, input_shape=(128, 128)),
    'cs-arfpn-r50': BenchmarkModel('det', config='configs/cs_arfpn_r50_bccd.py'),
    'faster-rcnn-r50-fpn': BenchmarkModel('det',
                                          config='configs/cs_arfpn/faster_rcnn_r50_fpn_bccd.py'),
    # The smear pipeline's default detector at the 480x360 its config resizes a field to.
    'faster-rcnn-lite0-fpn': BenchmarkModel(
        'det', config='configs/lite_fpn/faster_rcnn_lite0_fpn_bccd.py', input_shape=(360, 480)),
}

Step = Callable[[torch.Tensor], object]


def model_config(name: str):
    """The config (an ``mmengine.Config``) that :func:`build` builds an mmcell-side model from.

    Raises:
        ValueError: ``name`` is the Hugging Face model, which has no config.
    """
    from mmengine.config import Config

    from mmcell.utils import load_config
    spec = MODELS[name]
    if spec.hf:
        raise ValueError(f'{name} is built by transformers, not from a config')
    if spec.model is not None:
        cfg = Config(dict(default_scope=SCOPES[spec.task], model=spec.model))
    else:
        cfg = load_config(ROOT / spec.config)
    if spec.cfg_options:
        cfg.merge_from_dict(spec.cfg_options)
    return cfg


def build(name: str) -> Tuple[torch.nn.Module, Step, Step]:
    """Build one model of :data:`MODELS` for measuring.

    Args:
        name (str): A key of :data:`MODELS`.

    Returns:
        tuple: ``(model, forward, loss)``: the model in eval mode, ``forward(x)`` (inference on
        a normalised batch) and ``loss(x)`` (a scalar: cross-entropy against fixed labels, or
        the detector's losses against fixed boxes).
    """
    spec = MODELS[name]
    if spec.hf:
        from transformers import CvtConfig, CvtForImageClassification
        model = CvtForImageClassification(CvtConfig(num_labels=NUM_CLASSES)).eval()  # CvT-13

        def forward(x):
            return model(pixel_values=x).logits
    else:
        from mmcell.apis import build_model
        model = build_model(model_config(name))
        if spec.cpu_inference:
            from mmcell.engine import convert_for_cpu_inference
            convert_for_cpu_inference(model)
        if spec.task == 'det':
            return (model, *detector_steps(model))

        def forward(x):
            return model(x, mode='tensor')

    def loss(x):
        labels = torch.arange(x.size(0)) % NUM_CLASSES
        return F.cross_entropy(forward(x).float(), labels)
    return model, forward, loss


def detector_steps(model: torch.nn.Module) -> Tuple[Step, Step]:
    """Inference and loss on already-normalised 640x480 batches with 30 random boxes each.

    Both detectors' RoI heads get the same proposals: each RPN runs as usual, then its boxes are
    swapped for one fixed set of as many cell-sized boxes. RoIAlign's cost grows with the size of
    the boxes it pools (adaptive sampling), and untrained RPNs propose boxes of whatever size their
    random weights favour, so without this the RoI workload, not the architecture, decides which
    detector is faster.
    """
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    def boxes(n, h, w, seed=0):
        gen = torch.Generator().manual_seed(seed)
        xy = torch.rand(n, 2, generator=gen) * torch.tensor([w - 80., h - 80.])
        return torch.cat([xy, xy + 20 + torch.rand(n, 2, generator=gen) * 60], 1)

    def samples(x):
        h, w = x.shape[-2:]
        out = []
        for i in range(x.size(0)):
            sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                                 pad_shape=(h, w), batch_input_shape=(h, w),
                                                 scale_factor=(1., 1.)))
            sample.gt_instances = InstanceData(bboxes=boxes(30, h, w, seed=i),
                                               labels=torch.arange(30) % 3)
            out.append(sample)
        return out

    def same_proposals(roi_head_step):
        def step(x, rpn_results_list, batch_data_samples, **kwargs):
            for results, sample in zip(rpn_results_list, batch_data_samples):
                h, w = sample.img_shape
                results.bboxes = boxes(len(results), h, w, seed=1000)
            return roi_head_step(x, rpn_results_list, batch_data_samples, **kwargs)
        return step
    model.roi_head.predict = same_proposals(model.roi_head.predict)
    model.roi_head.loss = same_proposals(model.roi_head.loss)

    def forward(x):
        return model.predict(x, samples(x))

    def loss(x):
        total, _ = model.parse_losses(model.loss(x, samples(x)))
        return total
    return forward, loss
