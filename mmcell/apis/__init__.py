"""Inference APIs: classify cells, detect them (whole smear fields tile by tile), count them."""
from .inference import classify, count_cells, crop_cell, detect, init_classifier, init_detector
from .model import build_model
from .tiled_inference import inference_detector_tiled

__all__ = [
    'build_model', 'classify', 'count_cells', 'crop_cell', 'detect', 'inference_detector_tiled',
    'init_classifier', 'init_detector'
]
