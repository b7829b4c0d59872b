"""The Model zoo's tables and figures in the session's language. No Streamlit here.

The rows and series are the core's (:mod:`container_edu.training.zoo_report`), with English column names that
:func:`shown_rows` translates when the page draws the table; figure titles and axis titles come out in the
session's language.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from container_edu.figures.colors import CATEGORICAL, MARKERS
from container_edu.training.zoo_report import accuracy_series, blend_series

from app.i18n import N_, _

__all__ = ["COLUMNS", "shown_rows", "MIXED_STAGE", "stage_label", "add_beta_lines", "sweep_accuracy_figure",
           "sweep_blend_figure"]

#: The core's column names (``zoo_report.TABLE_COLUMNS``), marked here for the catalogue (the core stays English);
#: tests/test_sweep.py checks they are the same.
COLUMNS = (N_("model"), N_("variant"), N_("test accuracy (%)"), N_("val accuracy (%)"), N_("parameters"),
           N_("final blend (α, β per mixed block)"), N_("epochs"), N_("wall time"), N_("seed"),
           N_("training images"))


def stage_label(variant: str | None) -> str:
    """What a zoo variant's mixed stage is, named as the lessons name it.

    The variant ``mixer`` is a multi-head MLP (one learned ``N x N`` matrix per head), not the MLP-Mixer of
    the ``mixer`` lesson (one matrix shared by all channels); the label says both, so the variant name does not mislead.
    """
    from container_edu.ops.kinds import for_variant

    try:
        kind = for_variant(str(variant))
    except ValueError:
        return str(variant)
    if kind.zoo_variant != kind.key:
        return _("{kind} (zoo variant `{variant}`)").format(kind=_(kind.label), variant=variant)
    return _(kind.label)


def add_beta_lines(fig, histories: Mapping[str, Sequence[Mapping]], models: Collection[str]):
    """β per epoch on a blend-history figure (α lines named ``"model · block"``), for ``models`` only.

    Each β line takes its α line's colour, dotted, with open diamonds; models whose β is 1 − α are left out
    (a second line would say nothing new). Returns the figure.
    """
    import plotly.graph_objects as go

    colours = {trace.name: trace.line.color for trace in fig.data}
    for name in models:
        history = histories.get(name) or []
        blocks = sorted({block for entry in history for block in (entry.get("blend") or {})})
        for block in blocks:
            epochs = [entry["epoch"] for entry in history if block in (entry.get("blend") or {})]
            betas = [entry["blend"][block][1] for entry in history if block in (entry.get("blend") or {})]
            fig.add_trace(go.Scatter(
                x=epochs, y=betas, mode="lines+markers", name=f"{name} · {block} · β", legendgroup=name,
                line=dict(color=colours.get(f"{name} · {block}"), dash="dot"),
                marker=dict(symbol="diamond-open", size=8),
                hovertemplate=f"{name} {block}<br>epoch %{{x}}: β = %{{y:.4f}}<extra></extra>",
            ))
    if models:
        fig.update_yaxes(title_text=_("blend weight: α (A(X)); β dotted, where learned apart from α"))
    return fig


#: The column the page adds after "variant" (see ``pages/5_Model_zoo.py``).
MIXED_STAGE = N_("mixed stage")


def shown_rows(rows: Sequence[Mapping]) -> list[dict]:
    """The table rows with their column names in the session's language (the keys above are English)."""
    return [{_(column): value for column, value in row.items()} for row in rows]


# ---------------------------------------------------------------- the data-size sweep

# The core's palette for colour-blind readers, plus one marker shape per variant (not colour alone).
SWEEP_PALETTE = {"attention": CATEGORICAL[1], "conv": CATEGORICAL[0], "mixer": CATEGORICAL[2],
                 "container": CATEGORICAL[3], "container_light": CATEGORICAL[4]}
SWEEP_MARKERS = dict(zip(SWEEP_PALETTE, MARKERS, strict=False))


def _sweep_layout(fig, title: str, y_title: str):
    fig.update_xaxes(type="log", title_text=_("training images (log scale)"), tickvals=[1_000, 6_000, 54_000],
                     ticktext=["1,000", "6,000", "54,000"])
    fig.update_yaxes(title_text=y_title)
    fig.update_layout(title=dict(text=title), height=440, margin=dict(l=60, r=20, t=70, b=50),
                      legend=dict(orientation="h", y=-0.2))
    return fig


def sweep_accuracy_figure(runs: Sequence[Mapping], title: str):
    """Test accuracy against training-set size, mean ± std over seeds per variant (log x)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for variant, entry in accuracy_series(runs).items():
        fig.add_trace(go.Scatter(
            x=entry["sizes"], y=entry["mean"], name=variant, mode="lines+markers",
            error_y=dict(type="data", array=entry["std"], visible=True), customdata=entry["n"],
            line=dict(color=SWEEP_PALETTE.get(variant)), marker=dict(symbol=SWEEP_MARKERS.get(variant, "circle")),
            hovertemplate=f"{variant}<br>%{{x:,}} images: %{{y:.2f}}% ± %{{error_y.array:.2f}} "
                          "(n=%{customdata} seeds)<extra></extra>",
        ))
    return _sweep_layout(fig, title, _("test accuracy, % (mean ± std over seeds)"))


def sweep_blend_figure(runs: Sequence[Mapping], title: str):
    """Final α (solid) and β (dotted) of every mixed block against training-set size, mean ± std over seeds."""
    import plotly.graph_objects as go

    fig = go.Figure()
    # One dash per (block, weight): the first block solid/dotted, the second dashed/dash-dotted.
    dashes = [{"alpha": "solid", "beta": "dot"}, {"alpha": "dash", "beta": "dashdot"}]
    blocks: dict[str, list[str]] = {}
    for variant, block in blend_series(runs):
        blocks.setdefault(variant, []).append(block)
    for (variant, block), entry in blend_series(runs).items():
        dash = dashes[blocks[variant].index(block) % len(dashes)]
        for key, symbol in (("alpha", "α"), ("beta", "β")):
            if variant == "container_light" and key == "beta":
                continue  # β = 1 - α there: a second line would say nothing new
            fig.add_trace(go.Scatter(
                x=entry["sizes"], y=entry[key], name=f"{variant} · {block} · {symbol}", mode="lines+markers",
                error_y=dict(type="data", array=entry[f"{key}_std"], visible=True), customdata=entry["n"],
                line=dict(color=SWEEP_PALETTE.get(variant), dash=dash[key]),
                marker=dict(symbol=SWEEP_MARKERS.get(variant, "circle")),
                hovertemplate=f"{variant} {block}<br>%{{x:,}} images: {symbol} = %{{y:.3f}} "
                              "(n=%{customdata} seeds)<extra></extra>",
            ))
    fig.add_hline(y=0.5, line=dict(color="#888", dash="dot"))
    return _sweep_layout(fig, title, _("final blend weight (α: dynamic A(X), β: static)"))
