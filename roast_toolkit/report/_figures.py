"""Matplotlib figures without pyplot: a ``Figure`` on its own Agg canvas.

No global backend is switched (a notebook calling the report keeps its own backend) and no display is needed.
"""

from __future__ import annotations


def new_figure(width: float = 7.0, height: float = 4.0, ncols: int = 1):
    """A :class:`matplotlib.figure.Figure` on an Agg canvas and its axes.

    Parameters
    ----------
    width, height : float
        Size in inches.
    ncols : int
        Number of side-by-side axes.

    Returns
    -------
    (matplotlib.figure.Figure, Axes or array of Axes)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    return fig, axes


__all__ = ["new_figure"]
