"""Geometry of smear fields: the crop around a cell, tiles, and detections carried between
tiles and fields."""
from .cell_crop import crop_cell
from .tiling import boxes_in_tile, merge_tile_detections, tile_windows

__all__ = ['boxes_in_tile', 'crop_cell', 'merge_tile_detections', 'tile_windows']
