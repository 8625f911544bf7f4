"""Geometry of smear fields: tiles, and detections carried between tiles and fields."""
from .tiling import boxes_in_tile, merge_tile_detections, tile_windows

__all__ = ['boxes_in_tile', 'merge_tile_detections', 'tile_windows']
