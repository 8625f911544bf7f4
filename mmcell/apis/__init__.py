"""Inference API: classification, detection and the smear-to-differential-count pipeline."""
