"""The network the later lessons use, introduced once: the block diagram and the zoo's stages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from container_edu.models import ZooConfig, ZooContainer, blend_parameters

from . import figures


def show_block(key: str) -> None:
    """The Container block, drawn once in the course's notation (each part names the lesson that explains it)."""
    st.plotly_chart(figures.block_diagram(), key=key)
    st.caption("Stage-1 blocks skip Q and K (conv1 makes only V, the aggregation is a depthwise conv). In the mixed "
               "stage conv1's output is cut in three thirds, Q | K | V, and A blends attention with a conv "
               "(Container-Light) or with a learned matrix (Container).")


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
            "stage": stage, "patch embedding": f"{patch}×{patch} conv, stride {patch}", "grid": f"{side} × {side}",
            "tokens N": side * side, "channels C": dim, "blocks": ", ".join(names), "block type": kind,
            "blends (α, β)": ", ".join(name for name in names if name in blended) or "none (conv only)",
        })
    return pd.DataFrame(rows)


def meet_the_network(expanded: bool) -> None:
    """The 'meet the network' panel: what the zoo models are, before a trained one appears."""
    with st.expander("Meet the network: the zoo's small Container", expanded=expanded):
        st.markdown("Every trained model in these lessons is one small network trained on 28 × 28 Fashion-MNIST "
                    "images; the variants (conv, mixer, attention, Container-Light, Container) differ only in the "
                    "affinity A of the second stage. Its stages:")
        st.dataframe(zoo_stages(), hide_index=True, width="stretch")
        show_block("network_block_diagram")
