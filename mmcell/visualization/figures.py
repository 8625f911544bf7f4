"""Shared figure helpers: pyplot without a display, heat-map overlays, saving."""
from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only; works with no display)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def overlay_heatmap(rgb, heat, alpha=0.5, cmap='jet'):
    """Blend a [0, 1] heat map over an RGB uint8 image of the same height and width."""
    import matplotlib
    colours = matplotlib.colormaps[cmap](np.clip(heat, 0, 1))[..., :3]
    return ((1 - alpha) * rgb / 255 + alpha * colours).clip(0, 1)


def save_figure(fig, out_file, dpi=120):
    """Save a figure as it is sized (figsize x dpi pixels), parent folders created, and close it.

    Make the figure with ``layout='constrained'`` so that its labels fit inside it.
    """
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_file, dpi=dpi)
    pyplot().close(fig)
