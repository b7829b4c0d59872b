"""Model cards and training histories as tables and plot data. No Streamlit here."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence

from container_edu.cards import ModelCard

__all__ = ["card_row", "normalise_history", "session_row", "format_blend"]


def format_blend(blend: Mapping[str, Sequence[float]] | None) -> str:
    """``{"blocks2.0": [0.62, 0.38]}`` -> ``"blocks2.0: α=0.620 β=0.380"``; ``"—"`` when there is no mixed block."""
    if not blend:
        return "—"
    return "; ".join(f"{block}: α={float(v[0]):.3f} β={float(v[1]):.3f}" for block, v in blend.items())


def free_beta(variant: str | None) -> bool:
    """Whether the zoo variant learns β apart from α (Container); Container-Light's β is 1 − α."""
    from container_edu.kinds import for_variant

    try:
        return for_variant(str(variant)).blend == "alpha_beta"
    except ValueError:  # a variant this version does not know: show α only, as before
        return False


def stage_label(variant: str | None) -> str:
    """What a zoo variant's mixed stage is, named as the lessons name it.

    The variant ``mixer`` is a multi-head MLP (one learned ``N x N`` matrix per head), not the MLP-Mixer of
    lesson 4 (one matrix shared by all channels); the label says both, so the variant name does not mislead.
    """
    from container_edu.kinds import for_variant

    try:
        kind = for_variant(str(variant))
    except ValueError:
        return str(variant)
    if kind.zoo_variant != kind.key:
        return f"{kind.label} (zoo variant `{variant}`)"
    return kind.label


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
        fig.update_yaxes(title_text="blend weight: α (A(X)); β dotted, where learned apart from α")
    return fig


def _minutes(seconds) -> str:
    return f"{float(seconds) / 60:.1f} min" if isinstance(seconds, (int, float)) else "—"


def card_row(card: ModelCard) -> dict:
    """One row of the zoo table from a model card."""
    return {
        "model": card.name,
        "variant": card.variant,
        "test accuracy (%)": card.test_accuracy,
        "val accuracy (%)": card.val_accuracy,
        "parameters": card.parameter_count,
        "final blend (α, β per mixed block)": format_blend(card.final_blend),
        "epochs": card.epochs,
        "wall time": _minutes(card.wall_time_seconds),
        "seed": card.seed,
    }


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
