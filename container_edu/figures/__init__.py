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
- :mod:`.describe`: each figure's text alternative, a sentence and its data as
  a table (``describe(fig)``; the app draws them under every chart).
- :mod:`.families`: the "Three families" view's maps (DeiT heads, ConvNeXt kernels, the Mixer's W₂W₁ and
  Jacobian, Container-Light's blend) for one query, one colour scale per kind (:func:`family_figure`).
- :mod:`.maps`: one recorded block's rows for a query (one head's parts, or
  every head), its ``N x N`` matrix, the blend of every mixed block, a moved
  blend against the learned one, and several kinds' affinities side by side,
  each titled with the paper's symbols from :mod:`container_edu.ops.kinds`.
  :class:`~container_edu.record.inspection.Inspection` draws them for you
  (``.figure``, ``.matrix_figure``, ``.blend_figure``).
"""

from container_edu.figures.charts import blend_bars, history_accuracy, history_blend, probability_comparison, topk_bar
from container_edu.figures.describe import FigureText, describe, describe_figure
from container_edu.figures.families import family_figure
from container_edu.figures.heatmaps import (
    DIVERGING,
    FONT,
    SEQUENTIAL,
    Panel,
    affinity_matrix,
    as_array,
    base_layout,
    grid_row,
    image_figure,
    is_signed,
    panels,
    wrap_title,
)
from container_edu.figures.maps import (
    PART_TITLES,
    averaged_note,
    blend_change_figure,
    blend_figure,
    head_matrix_figure,
    heads_figure,
    map_panels,
    operator_comparison,
    part_is_signed,
    part_symbols,
    query_maps_figure,
    symbols,
)

__all__ = [
    "SEQUENTIAL", "DIVERGING", "FONT", "Panel", "is_signed", "wrap_title", "base_layout", "as_array",
    "affinity_matrix", "panels", "grid_row", "image_figure",
    "topk_bar", "probability_comparison", "blend_bars", "history_accuracy", "history_blend",
    "PART_TITLES", "part_symbols", "symbols", "averaged_note", "part_is_signed", "map_panels", "query_maps_figure", "heads_figure",
    "head_matrix_figure", "blend_figure", "blend_change_figure", "operator_comparison",
    "FigureText", "describe", "describe_figure", "family_figure",
]
