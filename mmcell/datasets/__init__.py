from .synthetic import CELL_STYLES, render_cell_crop, write_cell_crops

__all__ = ['CELL_STYLES', 'render_cell_crop', 'write_cell_crops']
