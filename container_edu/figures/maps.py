"""The maps of one recorded block, the blend of every mixed block, and the three kinds side by side.

These take the core's results (:class:`~container_edu.record.block_maps.BlockMaps`,
explicit affinities) and name every part with the paper's symbol from the
kinds registry (:mod:`container_edu.ops.kinds`), so the app's pages and a
notebook draw the same figures with the same words.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from container_edu.checks import grid_query
from container_edu.figures.charts import blend_bars
from container_edu.figures.heatmaps import Panel, affinity_matrix, as_array, panels
from container_edu.ops.affinity import token_index
from container_edu.ops.kinds import KINDS, get_kind, part_kind, part_rows_are_probabilities
from container_edu.record.block_maps import BlockMaps
from container_edu.text import N_, Message, translate

__all__ = [
    "PART_TITLES",
    "part_symbols",
    "symbols",
    "averaged_note",
    "part_is_signed",
    "map_panels",
    "query_maps_figure",
    "heads_figure",
    "head_matrix_figure",
    "blend_figure",
    "blend_change_figure",
    "operator_comparison",
]

#: What each part of a block's affinity is called in titles (English; translated where drawn).
PART_TITLES = {"attention": N_("dynamic"), "static": N_("static"), "blended": N_("blended")}
#: The colour bar of every head's map of one part.
_PART_WEIGHTS = {"attention": N_("attention weight"), "static": N_("static weight"), "blended": N_("blended weight")}
#: The colour bar of one part's N×N matrix.
_PART_ENTRIES = {"attention": N_("attention[i, j]"), "static": N_("static[i, j]"), "blended": N_("blended[i, j]")}


def _static_symbols(maps: BlockMaps, m: int | str) -> tuple[str, str]:
    """``(symbol, text)`` of the block's static part at head ``m`` (the head view averages per-channel matrices)."""
    kind = get_kind(maps.kind)
    static = part_kind(maps.kind, "static")
    if static is None:
        return f"A_{m}^static", f"A_{m}^static"
    if static.affinity_per != "channel":
        return static.symbol_for(m), static.symbol_for(m)
    symbol = static.averaged_symbol(m if kind.uses_heads else None)
    if kind.uses_heads:
        return symbol, symbol + " " + translate("(mean of {symbol} over head {m}'s channels)", symbol=static.symbol, m=m)
    return symbol, symbol + " " + translate("(mean of {symbol} over all channels)", symbol=static.symbol)


def part_symbols(maps: BlockMaps, head: int | str | None = None) -> dict[str, str]:
    """The short symbol of each part at ``head`` (default: the chosen head), e.g. for a picker."""
    m = maps.head if head is None else head
    dynamic = part_kind(maps.kind, "attention") or KINDS["attention"]
    static, _ = _static_symbols(maps, m)
    return {"attention": dynamic.symbol_for(m), "static": static,
            "blended": f"α {dynamic.symbol_for(m)} + β {static}"}


def symbols(maps: BlockMaps, head: int | str | None = None) -> dict[str, str]:
    """The paper's formula of each part of this block's affinity at ``head``, for titles and colour bars."""
    m = maps.head if head is None else head
    dynamic = part_kind(maps.kind, "attention") or KINDS["attention"]
    _, static_text = _static_symbols(maps, m)
    blended = part_symbols(maps, m)["blended"]
    return {
        "attention": dynamic.formula_for(m),
        "static": static_text,
        "blended": f"A_{m} = {blended}<br>α = {maps.alpha:.3f}, β = {maps.beta:.3f}"
                   + (f"<br>({averaged_note(maps, m, alone=True)})" if averaged_note(maps, m) else ""),
    }


def averaged_note(maps: BlockMaps, head: int | str = "m", *, alone: bool = False) -> str:
    """``", conv kernels averaged over head m's channels"`` when the static part is per channel, else ``""``.

    ``alone``: the note as a phrase of its own, without the leading comma that joins it to a title.
    A per-channel blend (Container-Light) has one affinity per channel; its head view, drawn and exported,
    averages the conv kernels of the head's channels, so a blended map is not any one channel's affinity.
    """
    static = part_kind(maps.kind, "static")
    if static is None or static.affinity_per != "channel" or maps.attention_heads is None:
        return ""
    if get_kind(maps.kind).uses_heads:
        if alone:
            return translate("conv kernels averaged over head {m}'s channels", m=head)
        return translate(", conv kernels averaged over head {m}'s channels", m=head)
    if alone:
        return translate("conv kernels averaged over all channels")
    return translate(", conv kernels averaged over all channels")


def part_is_signed(maps: BlockMaps, part: str) -> bool:
    """Whether ``part`` of this block is drawn centred on 0 (everything but probability rows)."""
    return not part_rows_are_probabilities(maps.kind, part)


def map_panels(maps: BlockMaps, *, head: int | None = None) -> list[Panel]:
    """The attention, static and blended maps of one head as figure panels (missing parts left out)."""
    names = symbols(maps)
    items = []
    if maps.attention_heads is not None:
        items.append(Panel(maps.attention if head is None else maps.attention_heads[head],
                           translate("dynamic<br>{formula}", formula=names["attention"]),
                           translate("A(X)[i, j] (attention weight)"),
                           part_is_signed(maps, "attention")))
    if maps.static_heads is not None:
        items.append(Panel(maps.static if head is None else maps.static_heads[head],
                           translate("static<br>{formula}", formula=names["static"]), "A_static[i, j]",
                           part_is_signed(maps, "static")))
    if maps.attention_heads is not None and maps.static_heads is not None:
        items.append(Panel(maps.blended if head is None else maps.blended_heads[head],
                           translate("blended: {formula}", formula=names["blended"]), "α A(X) + β A_static",
                           part_is_signed(maps, "blended")))
    return items


def query_maps_figure(maps: BlockMaps, image: np.ndarray | None = None, *, title_prefix: str = "",
                      opacity: float = 0.6, clickable: bool = False, panel_height: int = 330) -> go.Figure:
    """The chosen head's row ``i`` (the query) of each part, over ``image`` (the picture the model saw) when given.

    ``clickable`` adds the invisible points the app uses to move the query with a click.
    """
    y, x = maps.query
    grid_h, grid_w = maps.grid
    fields = dict(block=maps.block, m=maps.head, y=y, x=x, h=grid_h, w=grid_w, i=y * grid_w + x)
    if image is not None:
        title = title_prefix + translate("Block {block}, head {m}, query ({y}, {x}) on the {h}×{w} grid: row i = {i} "
                                         "of each affinity, over the image the model sees", **fields)
    else:
        title = title_prefix + translate("Block {block}, head {m}, query ({y}, {x}) on the {h}×{w} grid: row i = {i} "
                                         "of each affinity", **fields)
    return panels(map_panels(maps), title, cols=3, query=maps.query, image=image, opacity=opacity,
                  clickable=clickable, panel_height=panel_height)


def _stack(maps: BlockMaps, part: str) -> np.ndarray:
    stack = {"attention": maps.attention_heads, "static": maps.static_heads, "blended": maps.blended_heads}.get(part)
    if part not in PART_TITLES:
        raise ValueError(f"part must be one of {', '.join(PART_TITLES)}, got {part!r}")
    if stack is None or part not in maps.parts:
        raise ValueError(f"block {maps.block} ({maps.kind}) has no {part} part; it has: {', '.join(maps.parts)}")
    return stack


def heads_figure(maps: BlockMaps, part: str, image: np.ndarray | None = None, *, opacity: float = 0.6,
                 panel_height: int = 240) -> go.Figure:
    """Every head's row of ``part`` for the query, on one colour scale (over ``image`` when given)."""
    stack = _stack(maps, part)
    names = symbols(maps, head="m")
    items = [Panel(stack[m], translate("head {m}", m=m), translate(_PART_WEIGHTS[part]), part_is_signed(maps, part))
             for m in range(len(stack))]
    y, x = maps.query
    title = translate("All {n} head(s) m of block {block}: {formula}, row of query ({y}, {x}), one colour scale",
                      n=len(stack), block=maps.block, formula=names[part].replace("<br>", "; "), y=y, x=x)
    return panels(items, title, cols=min(4, len(stack)), shared_scale=True, query=maps.query, image=image,
                  opacity=opacity, panel_height=panel_height)


def head_matrix_figure(matrix: np.ndarray, maps: BlockMaps, part: str, *, height: int = 380,
                       title_width: int = 40) -> go.Figure:
    """Head ``maps.head``'s full ``N x N`` matrix of ``part``, with the query's row outlined."""
    _stack(maps, part)
    grid_w = maps.grid[1]
    title = translate("{part}: {formula}, head {head}", part=Message(PART_TITLES[part]),
                      formula=symbols(maps)[part].split("<br>")[0], head=maps.head)
    return affinity_matrix(
        matrix, title + (averaged_note(maps, maps.head) if part == "blended" else ""), grid=maps.grid,
        colorbar_title=translate(_PART_ENTRIES[part]), signed=part_is_signed(maps, part),
        query_token=maps.query[0] * grid_w + maps.query[1], height=height, title_width=title_width,
    )


def blend_figure(blend: Mapping[str, tuple[float, float]], title: str, *, kind: str = "container_light",
                 title_width: int = 95) -> go.Figure:
    """The ``(α, β)`` of every mixed block as bars; ``β`` drawn too when the ``kind`` learns it on its own."""
    return blend_bars(blend, title, show_beta=get_kind(kind).blend == "alpha_beta", title_width=title_width)


def blend_change_figure(before: BlockMaps, after: BlockMaps, image: np.ndarray | None = None, *,
                        panel_height: int = 320) -> go.Figure:
    """One head's blended row with the learned blend, with a moved one, and their difference, on one scale."""
    head, block = before.head, before.block
    bound = float(max(np.abs(before.blended).max(), np.abs(after.blended).max())) or None
    items = [
        Panel(before.blended, translate("learned: α={alpha}, β={beta}", alpha=format(before.alpha, ".2f"),
                                        beta=format(before.beta, ".2f")), "α A(X) + β A_static", True, bound),
        Panel(after.blended, translate("yours: α={alpha}, β={beta}", alpha=format(after.alpha, ".2f"),
                                       beta=format(after.beta, ".2f")), "α A(X) + β A_static", True, bound),
        Panel(after.blended - before.blended, translate("yours − learned"), translate("difference"), True),
    ]
    y, x = before.query
    formula = f"A_{head} = α A_{head}(X) + β A_{head}^static"
    title = translate("Blended row {formula} of block {block}, head {m}, query ({y}, {x})",
                      formula=formula, block=block, m=head, y=y, x=x)
    title += averaged_note(before, head)
    return panels(items, title, cols=3, query=before.query, image=image, panel_height=panel_height)


def operator_comparison(matrices: Mapping[str, np.ndarray], grid: tuple[int, int], *,
                        labels: Mapping[str, str] | None = None, query: tuple[int, int] | None = None,
                        head: int = 0, title: str | None = None, cols: int | None = None,
                        panel_height: int | None = None) -> go.Figure:
    """Several kinds' affinities on the same grid side by side, each titled and scaled as the kinds registry says.

    ``matrices`` maps a kind key (``"attention"``, ``"conv"``, ``"mixer"``, ...)
    to one ``N x N`` matrix on the ``grid``; ``labels`` says which of the
    kind's matrices it is (``"head 0"``, ``"channel 0"``), ``head`` which head
    the symbols name. With ``query`` (``(y, x)``) each panel is that query's
    row ``A[i, :]`` on the ``H x W`` grid instead of the whole matrix.
    """
    height, width = grid
    count = height * width
    token = None if query is None else token_index(*grid_query(query, height, width), width)
    items = []
    for key, matrix in matrices.items():
        kind = get_kind(key)
        matrix = as_array(matrix)
        if matrix.shape != (count, count):
            raise ValueError(f"the {key} matrix has shape {matrix.shape}, expected ({count}, {count}) "
                             f"for a {height}×{width} grid")
        symbol = kind.symbol_for(head)
        label = (labels or {}).get(key, "")
        subtitle = f"{translate(kind.label)}<br>{symbol}" + (f" ({label})" if label else "")
        signed = not kind.rows_are_probabilities
        if token is None:
            items.append(Panel(matrix, subtitle, f"{symbol}[i, j]", signed))
        else:
            items.append(Panel(matrix[token].reshape(height, width), subtitle, f"{symbol}[{token}, j]", signed))
    cols = cols or min(3, len(items))
    if token is None:
        title = title or translate("{n} affinity matrices A (N×N, N = {h}×{w} = {count} tokens): row i = query, "
                                   "column j = key", n=len(items), h=height, w=width, count=count)
        return panels(items, title, cols=cols, axis_titles=(N_("key token j"), N_("query token i")),
                      panel_height=panel_height or 330)
    title = title or translate("Row of query ({y}, {x}) per operator: A[i = {i}, :] on the {h}×{w} grid",
                               y=query[0], x=query[1], i=token, h=height, w=width)
    return panels(items, title, cols=cols, query=tuple(query), panel_height=panel_height or 260)
