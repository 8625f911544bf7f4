"""Inference APIs: whole smear fields through tiled detection."""
from .tiled_inference import inference_detector_tiled

__all__ = ['inference_detector_tiled']
