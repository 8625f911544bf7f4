"""Inference APIs: classify cells (:class:`CellClassificationInferencer`), run the smear pipeline
(:class:`SmearInferencer`: detect, classify white cells, count), build a config's model."""
from .cell_classification import CellClassificationInferencer
from .model import build_model
from .smear_inference import SmearInferencer
from .tiled_inference import inference_detector_tiled

__all__ = [
    'CellClassificationInferencer', 'SmearInferencer', 'build_model', 'inference_detector_tiled'
]
