"""Plotly figures of the core's results, for the app and for a notebook alike (no Streamlit here).

Every function takes arrays or the core's results and returns a
``plotly.graph_objects.Figure``: show it in Jupyter by leaving it as a
cell's last value, save it with ``fig.write_html("maps.html")``, or export
it statically with ``fig.write_image("maps.svg")`` (PNG, SVG and PDF need
the optional ``kaleido`` package and a Chrome or Chromium on the machine:
``pip install "container_edu[export]"``).

- :mod:`.heatmaps`: an ``N x N`` affinity (:func:`affinity_matrix`), small
  multiples of maps on the token grid, optionally over the picture the model
  saw (:class:`Panel`, :func:`panels`, :func:`grid_row`), the picture itself.
- :mod:`.charts`: top-k predictions, learned blends, training histories.
"""

from .charts import blend_bars, history_accuracy, history_blend, probability_comparison, topk_bar
from .heatmaps import (
    DIVERGING,
    FONT,
    SEQUENTIAL,
    Panel,
    affinity_matrix,
    base_layout,
    grid_row,
    image_figure,
    is_signed,
    panels,
    wrap_title,
)

__all__ = [
    "SEQUENTIAL", "DIVERGING", "FONT", "Panel", "is_signed", "wrap_title", "base_layout",
    "affinity_matrix", "panels", "grid_row", "image_figure",
    "topk_bar", "probability_comparison", "blend_bars", "history_accuracy", "history_blend",
]
