"""The network the later lessons use, introduced once: the block diagram and the zoo's stages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.i18n import _
from container_edu.models import ZooConfig, ZooContainer, blend_parameters

from app.lessons.parts import figures


def show_block(key: str) -> None:
    """The Container block, drawn once in the course's notation (each part names the lesson that explains it)."""
    with st.container(key=key):
        st.html(figures.block_diagram_html())
    st.caption(_("Stage-1 blocks skip Q and K (conv1 makes only V, the aggregation is a depthwise conv). In the mixed "
                 "stage conv1's output is cut in three thirds, Q | K | V, and A blends attention with a conv "
                 "(Container-Light) or with a learned matrix (Container)."))


@st.cache_data(show_spinner=False)
def zoo_stages(mixing: str = "container_light") -> list[dict]:
    """The zoo network's stages, read off a freshly built model (not typed in); numbers and names only, so the
    cached value is the same in every language (:func:`zoo_stage_table` words it)."""
    config = ZooConfig(mixing=mixing)
    model = ZooContainer(config)
    side = config.img_size
    rows = []
    blended = set(blend_parameters(model))
    for stage, (dim, depth, patch) in enumerate(zip(config.embed_dims, config.depths, config.patch_sizes), start=1):
        side //= patch
        names = [f"blocks{stage}.{index}" for index in range(depth)]
        kind = type(model.get_submodule(names[0])).__name__
        rows.append({"stage": stage, "patch": patch, "side": side, "channels": dim, "blocks": names, "kind": kind,
                     "blended": [name for name in names if name in blended]})
    return rows


def zoo_stage_table(mixing: str = "container_light") -> pd.DataFrame:
    """:func:`zoo_stages` as the table the lessons show, in the session's language."""
    return pd.DataFrame([{
        _("stage"): row["stage"],
        _("patch embedding"): _("{patch}×{patch} conv, stride {patch}").format(patch=row["patch"]),
        _("grid"): f"{row['side']} × {row['side']}", _("tokens N"): row["side"] ** 2, _("channels C"): row["channels"],
        _("blocks"): ", ".join(row["blocks"]), _("block type"): row["kind"],
        _("blends (α, β)"): ", ".join(row["blended"]) or _("none (conv only)"),
    } for row in zoo_stages(mixing)])


def meet_the_network(expanded: bool) -> None:
    """The 'meet the network' panel: what the zoo models are, before a trained one appears."""
    with st.expander(_("Meet the network: the zoo's small Container"), expanded=expanded, key="network_expander"):
        st.markdown(_("Every trained model in these lessons is one small network trained on 28 × 28 Fashion-MNIST "
                      "images; the variants (conv, mixer, attention, Container-Light, Container) differ only in the "
                      "affinity A of the second stage. Its stages:"))
        st.dataframe(zoo_stage_table(), hide_index=True, width="stretch")
        show_block("network_block_diagram")
