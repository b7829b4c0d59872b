"""Model cards and training histories as tables and plot data. No Streamlit here.

Table columns are English keys (marked with ``N_``) that the page translates when it draws the table
(:func:`shown_rows`); figure titles and axis titles come out in the session's language.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence

from container_edu.hub.cards import ModelCard

from app.i18n import N_, _

__all__ = ["card_row", "shown_rows", "MIXED_STAGE", "normalise_history", "session_row", "format_blend", "training_images", "is_sweep_model",
           "sweep_runs", "accuracy_series", "blend_series", "sweep_accuracy_figure", "sweep_blend_figure"]


def format_blend(blend: Mapping[str, Sequence[float]] | None) -> str:
    """``{"blocks2.0": [0.62, 0.38]}`` -> ``"blocks2.0: α=0.620 β=0.380"``; ``"—"`` when there is no mixed block."""
    if not blend:
        return "—"
    return "; ".join(f"{block}: α={float(v[0]):.3f} β={float(v[1]):.3f}" for block, v in blend.items())


def free_beta(variant: str | None) -> bool:
    """Whether the zoo variant learns β apart from α (Container); Container-Light's β is 1 − α."""
    from container_edu.ops.kinds import for_variant

    try:
        return for_variant(str(variant)).blend == "alpha_beta"
    except ValueError:  # a variant this version does not know: show α only, as before
        return False


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


def _minutes(seconds) -> str:
    return f"{float(seconds) / 60:.1f} min" if isinstance(seconds, (int, float)) else "—"


def card_row(card: ModelCard) -> dict:
    """One row of the zoo table from a model card."""
    return {
        N_("model"): card.name,
        N_("variant"): card.variant,
        N_("test accuracy (%)"): card.test_accuracy,
        N_("val accuracy (%)"): card.val_accuracy,
        N_("parameters"): card.parameter_count,
        N_("final blend (α, β per mixed block)"): format_blend(card.final_blend),
        N_("epochs"): card.epochs,
        N_("wall time"): _minutes(card.wall_time_seconds),
        N_("seed"): card.seed,
        N_("training images"): training_images(card),
    }


#: The column the page adds after "variant" (see ``pages/5_Model_zoo.py``).
MIXED_STAGE = N_("mixed stage")


def shown_rows(rows: Sequence[Mapping]) -> list[dict]:
    """The table rows with their column names in the session's language (the keys above are English)."""
    return [{_(column): value for column, value in row.items()} for row in rows]


def normalise_history(history: Sequence) -> list[dict]:
    """Epoch logs as plain dicts, whether they are dicts (model cards) or ``EpochLog`` dataclasses (live training)."""
    rows = []
    for entry in history or []:
        if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
            entry = dataclasses.asdict(entry)
        if isinstance(entry, Mapping) and "epoch" in entry:
            rows.append(dict(entry))
    return rows


def session_row(name: str, entry: Mapping) -> dict:
    """One row of the "trained in this session" table."""
    history = normalise_history(entry.get("history", []))
    settings = entry.get("settings", {})
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        settings = dataclasses.asdict(settings)
    model = entry.get("model")
    parameters = sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None
    last = history[-1] if history else {}
    return {
        "model": name,
        "variant": (settings or {}).get("mixing", "?"),
        "test accuracy (%)": last.get("test_accuracy"),
        "val accuracy (%)": last.get("val_accuracy"),
        "parameters": parameters,
        "final blend (α, β per mixed block)": format_blend(last.get("blend")),
        "epochs": len(history),
        "wall time": _minutes(sum(float(h.get("seconds") or 0) for h in history)) if history else "—",
        "seed": (settings or {}).get("seed"),
    }


# ---------------------------------------------------------------- the data-size sweep

SWEEP_PALETTE = {"attention": "#b5495b", "conv": "#2f6f8f", "mixer": "#5a9e5a", "container": "#d08c3c",
                 "container_light": "#7a5fa6"}


def training_images(card: ModelCard) -> int | None:
    """How many training images a card's model saw (54,000 when it trained on the whole training split)."""
    training = card.training or {}
    if training.get("train_subset"):
        return int(training["train_subset"])
    if "val_fraction" in training:
        return round(60_000 * (1 - float(training["val_fraction"])))
    return None


def is_sweep_model(card: ModelCard) -> bool:
    """Whether the card is one of the data-size sweep's small-data models (``fmnist_<variant>_n<size>``)."""
    return bool((card.training or {}).get("balanced_subset"))


def sweep_runs(path=None) -> list[dict]:
    """The finished sweep runs, read now from the package's results file (``[]`` when there is none)."""
    from container_edu.training import sweep

    return sweep.load_results(path or sweep.RESULTS_PATH)["runs"]


def accuracy_series(runs: Sequence[Mapping]) -> dict[str, dict[str, list]]:
    """variant -> sizes, mean and std (0 for one seed) of the test accuracy, and n seeds, sizes ascending."""
    from container_edu.training.sweep_report import summary

    cells = summary(list(runs))
    series: dict[str, dict[str, list]] = {}
    for (variant, size), cell in sorted(cells.items(), key=lambda item: item[0][1]):
        entry = series.setdefault(variant, {"sizes": [], "mean": [], "std": [], "n": []})
        entry["sizes"].append(size)
        entry["mean"].append(cell["mean"])
        entry["std"].append(cell["std"] or 0.0)
        entry["n"].append(cell["n"])
    return series


def blend_series(runs: Sequence[Mapping]) -> dict[tuple[str, str], dict[str, list]]:
    """(variant, block) -> sizes, mean and std of the final α and β, and n seeds, for the blended variants."""
    from container_edu.training.sweep_report import blend_summary

    cells = blend_summary(list(runs))
    series: dict[tuple[str, str], dict[str, list]] = {}
    for (variant, size, block), cell in sorted(cells.items(), key=lambda item: item[0][1]):
        entry = series.setdefault((variant, block), {"sizes": [], "alpha": [], "alpha_std": [], "beta": [],
                                                     "beta_std": [], "n": []})
        entry["sizes"].append(size)
        for key in ("alpha", "beta"):
            entry[key].append(cell[key])
            entry[f"{key}_std"].append(cell[f"{key}_std"] or 0.0)
        entry["n"].append(cell["n"])
    return series


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
            line=dict(color=SWEEP_PALETTE.get(variant)),
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
                hovertemplate=f"{variant} {block}<br>%{{x:,}} images: {symbol} = %{{y:.3f}} "
                              "(n=%{customdata} seeds)<extra></extra>",
            ))
    fig.add_hline(y=0.5, line=dict(color="#888", dash="dot"))
    return _sweep_layout(fig, title, _("final blend weight (α: dynamic A(X), β: static)"))
