"""The network the later lessons use, introduced once: the block diagram and the zoo's stages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.i18n import N_, _
from container_edu.models import ZooConfig, ZooContainer, blend_parameters

from . import figures


def show_block(key: str) -> None:
    """The Container block, drawn once in the course's notation (each part names the lesson that explains it)."""
    st.plotly_chart(figures.block_diagram(), key=key)
    st.caption(_("Stage-1 blocks skip Q and K (conv1 makes only V, the aggregation is a depthwise conv). In the mixed "
                 "stage conv1's output is cut in three thirds, Q | K | V, and A blends attention with a conv "
                 "(Container-Light) or with a learned matrix (Container)."))


# The stage table's columns and texts (English in the cached table, translated when drawn).
_COLUMNS = (N_("stage"), N_("patch embedding"), N_("grid"), N_("tokens N"), N_("channels C"), N_("blocks"),
            N_("block type"), N_("blends (α, β)"))
_PATCH = N_("{patch}×{patch} conv, stride {patch}")
_CONV_ONLY = N_("none (conv only)")


@st.cache_data(show_spinner=False)
def zoo_stages(mixing: str = "container_light") -> pd.DataFrame:
    """The zoo network's stages, read off a freshly built model (not typed in)."""
    config = ZooConfig(mixing=mixing)
    model = ZooContainer(config)
    side = config.img_size
    rows = []
    blended = set(blend_parameters(model))
    for stage, (dim, depth, patch) in enumerate(zip(config.embed_dims, config.depths, config.patch_sizes), start=1):
        side //= patch
        names = [f"blocks{stage}.{index}" for index in range(depth)]
        kind = type(model.get_submodule(names[0])).__name__
        rows.append({
            "stage": stage, "patch embedding": patch, "grid": f"{side} × {side}",
            "tokens N": side * side, "channels C": dim, "blocks": ", ".join(names), "block type": kind,
            "blends (α, β)": ", ".join(name for name in names if name in blended) or _CONV_ONLY,
        })
    return pd.DataFrame(rows)


def _shown_stages(frame: pd.DataFrame) -> pd.DataFrame:
    """The cached stage table in the session's language."""
    shown = frame.copy()
    shown["patch embedding"] = [_(_PATCH).format(patch=patch) for patch in frame["patch embedding"]]
    shown["blends (α, β)"] = [_(text) if text == _CONV_ONLY else text for text in frame["blends (α, β)"]]
    shown.columns = [_(column) for column in _COLUMNS]
    return shown


def meet_the_network(expanded: bool) -> None:
    """The 'meet the network' panel: what the zoo models are, before a trained one appears."""
    with st.expander(_("Meet the network: the zoo's small Container"), expanded=expanded):
        st.markdown(_("Every trained model in these lessons is one small network trained on 28 × 28 Fashion-MNIST "
                      "images; the variants (conv, mixer, attention, Container-Light, Container) differ only in the "
                      "affinity A of the second stage. Its stages:"))
        st.dataframe(_shown_stages(zoo_stages()), hide_index=True, width="stretch")
        show_block("network_block_diagram")
