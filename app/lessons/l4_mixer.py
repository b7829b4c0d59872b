"""Lesson 4: MLP-Mixer token mixing, a static and dense affinity; the multi-head MLP in between."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from container_edu import affinity as aff
from container_edu.aggregation import (
    DepthwiseConvAggregation,
    MultiHeadMLP,
    MultiHeadSelfAttention,
    TokenMixing,
    count_parameters,
)

from . import figures
from .network import meet_the_network
from .resources import lesson_model, train_command
from .widgets import Question, check_close, check_prediction, predict, check_true, goals, math_block, quiz, random_weights_warning, verify_panel

KEY = "mixer"
GRID_PREDICTIONS = ("yes, it runs", "no, it refuses")
TITLE = "MLP-Mixer: static and dense"
MODEL = "fmnist_mixer"
GRIDS = {"7 × 7 (the grid it was built for)": (7, 7), "8 × 8": (8, 8), "14 × 14": (14, 14), "5 × 10": (5, 10)}

GOALS = [
    "See token mixing as one learned N × N affinity shared by all channels: static (fixed after training) and dense.",
    "Understand why a learned N × N matrix ties the model to one grid size, while conv and attention are not tied.",
    "Place the multi-head MLP (M learned matrices, one per head) between the Mixer (M = 1) and per-channel matrices.",
]

QUESTIONS = (
    Question(
        "A Mixer layer was trained on 7 × 7 tokens. At test time the images give 8 × 8 tokens. What happens?",
        (
            (f"It cannot run: its {7 * 7} × {7 * 7} matrix fits only {7 * 7} tokens",
             "The matrix is the parameter. A conv kernel or attention's W_q, W_k work on any N; a dense learned A "
             "does not (you would have to resize or retrain it)."),
            ("It runs, padding the extra tokens with zeros",
             f"Nothing in A V pads: a {7 * 7} × {7 * 7} A cannot multiply a {8 * 8} × C V."),
            ("It runs, because its matrix is recomputed from the input like attention's",
             "That is attention. The Mixer's A is a stored parameter, fixed after training."),
        ),
        0,
    ),
    Question(
        "How many parameters does one token-mixing matrix have on a 14 × 14 grid?",
        (
            (f"{(14 * 14) ** 2:,}", f"N = {14 * 14} tokens, so N² = {(14 * 14) ** 2:,} weights per matrix."),
            (f"{14 * 14 * 96:,}: one weight per token and channel (N × C, C = 96)",
             "That counts N × C. A token-mixing matrix has one weight per pair of tokens (shared by the channels it "
             "mixes), so N²."),
            (f"{5 * 5}", "That is a 5 × 5 conv kernel's size, independent of the grid."),
        ),
        0,
    ),
    Question(
        "How does a multi-head MLP with M heads differ from MLP-Mixer token mixing?",
        (
            ("M matrices, each shared by one head's C/M channels",
             "Same static, dense kind of affinity; more matrices, each for a group of channels."),
            ("Its M matrices are computed from the input, one per head, like attention's", "Still static: the matrices are parameters."),
            ("Each head uses its own k × k kernel, which makes it a grouped conv", "Kernels are the conv's way; a multi-head MLP's matrices are dense."),
        ),
        0,
    ),
)


def render() -> None:
    goals(GOALS)
    math_block(
        r"\text{Mixer } (M = 1):\quad Y = A\,V,\qquad A \in \mathbb{R}^{N \times N} \text{ a learned parameter}",
        r"\text{multi-head MLP}:\quad Y = \operatorname{concat}(A_0 V_0, \dots, A_{M-1} V_{M-1}),\qquad "
        r"A_m \in \mathbb{R}^{N \times N} \text{ learned}",
        caption="MLP-Mixer's real token-mixing MLP has two layers, N → D_S → N with a GELU between (D_S hidden "
        "units), applied to every channel alike; one N × N matrix A is its one-layer, linear version. The zoo's "
        "'mixer' variant is neither exactly: it is a multi-head MLP with M = 4 one-layer N × N matrices, one per head "
        "of C/M channels. All three are static (the same for every image) and dense (every token can reach every "
        "token), with N² parameters per matrix, and tied to the N they were trained on.",
    )

    meet_the_network(expanded=True)  # the first lesson that shows a trained zoo model
    loaded = lesson_model(MODEL)
    if loaded.is_random:
        random_weights_warning(f"the {MODEL} zoo model", train_command("mixer"))
    model = loaded.model
    blocks = [name for name, module in model.named_modules() if isinstance(module, MultiHeadMLP)]
    c1, c2, c3, c4 = st.columns(4)
    block = c1.selectbox("block", blocks, key="l4_block")
    mix: MultiHeadMLP = model.get_submodule(block)
    height, width = model.config.mixed_grid
    head = c2.radio("head m", list(range(mix.num_heads)), horizontal=True, key="l4_head")
    qy = c3.slider("query row y", 0, height - 1, 3, key="l4_qy")
    qx = c4.slider("query column x", 0, width - 1, 3, key="l4_qx")
    query = aff.token_index(qy, qx, width)
    learned = mix.weight.detach().cpu().double()  # (M, N, N)
    suffix = " — random weights" if loaded.is_random else ""

    left, right = st.columns([1.5, 1])
    with left:
        st.plotly_chart(figures.heatmap(
            learned[head], f"Learned affinity A_{head} of {block}.mix ({learned.shape[-1]} × {learned.shape[-1]}){suffix}",
            f"A_{head}[i, j]", x_title="input token j", y_title="output token i", diverging=True, height=430),
            key="l4_fig_matrix")
    with right:
        st.plotly_chart(figures.grid_map(
            learned[head, query].reshape(height, width), f"Row i = t{query} of A_{head} on the {height} × {width} grid",
            f"A_{head}[i, j]", query=(qy, qx), diverging=True, height=430), key="l4_fig_row")
    row = learned[head, query]
    st.caption(f"Row t{query}: {int((row != 0).sum())} of {row.numel()} entries non-zero (dense); sum "
               f"{float(row.sum()):.3f} (nothing makes it 1); largest weight on token t{int(row.abs().argmax())}. "
               "The same matrix is used for every image.")

    st.markdown("**Tied to one grid.** The same learned matrix as a Mixer (one A for all channels), run on another grid:")
    grid_label = st.selectbox("run it on a grid of", list(GRIDS), key="l4_grid")
    grid = GRIDS[grid_label]
    prediction = predict("l4_prediction", "Predict: will the learned matrix run on the grid you picked?",
                         GRID_PREDICTIONS)
    channels = 8
    mixer = TokenMixing(height * width).double()
    with torch.no_grad():
        mixer.weight.copy_(learned[head : head + 1])
    v_other = torch.randn(1, channels, *grid, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    runs = False
    try:
        with torch.no_grad():
            out = mixer(v_other)
        runs = True
        if prediction is None:
            st.info("Make your prediction to see whether it runs.")
        else:
            st.success(f"Runs: a {grid[0]} × {grid[1]} grid has {grid[0] * grid[1]} tokens, as the matrix "
                       f"expects; output shape {tuple(out.shape)}.")
    except ValueError as error:
        if prediction is None:
            st.info("Make your prediction to see whether it runs.")
        else:
            st.warning(f"The Mixer refuses this grid. Its own words: “{error}”.", icon=":material/block:")
    with torch.no_grad():
        conv_out = DepthwiseConvAggregation(channels, 5).double()(v_other)
        qkv = torch.randn(1, 3 * channels, *grid, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        attention_out = MultiHeadSelfAttention(2)(qkv)
    st.caption(f"On the same {grid[0]} × {grid[1]} grid a 5 × 5 depthwise conv gives {tuple(conv_out.shape)} and "
               f"attention gives {tuple(attention_out.shape)}: their parameters do not depend on N.")

    st.markdown("**From Mixer to multi-head MLP.** Parameters of the affinities on this grid "
                f"(N = {height * width}, C = {model.config.embed_dims[1]} channels):")
    dim, tokens = model.config.embed_dims[1], height * width
    rows = []
    for heads, name in ((1, "MLP-Mixer token mixing"), (2, "multi-head MLP"), (mix.num_heads, "multi-head MLP (this zoo)"),
                        (dim, "one matrix per channel")):
        rows.append({"operator": name, "heads M": heads, "channels per matrix": dim // heads,
                     "affinity parameters": count_parameters(MultiHeadMLP(tokens, heads))})
    rows.append({"operator": "5 × 5 depthwise conv (for comparison)", "heads M": dim, "channels per matrix": 1,
                 "affinity parameters": count_parameters(DepthwiseConvAggregation(dim, 5)) - dim})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption("The conv row counts kernel weights only (its bias is not part of A). Attention's affinity has no "
               "parameters of its own: it is computed from Q and K.")

    # Verify: both static dense modules are A V written out channel by channel.
    v = torch.randn(1, channels, height, width, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    multihead = MultiHeadMLP(height * width, mix.num_heads).double()
    with torch.no_grad():
        multihead.weight.copy_(learned)
        tokens_v = aff.map_to_tokens(v)[0]  # (N, C)
        per_head = channels // mix.num_heads
        by_hand = torch.stack([learned[c // per_head] @ tokens_v[:, c] for c in range(channels)], dim=1)
        shared = torch.stack([learned[head] @ tokens_v[:, c] for c in range(channels)], dim=1)
        multihead_out = aff.map_to_tokens(multihead(v))[0]
        mixer_out = aff.map_to_tokens(mixer(v))[0]
    try:
        mixer(torch.zeros(1, channels, height + 1, width + 1, dtype=torch.float64))
        refused = False
    except ValueError:
        refused = True
    if prediction is not None:
        prediction_checks = [check_prediction(prediction, GRID_PREDICTIONS[0 if runs else 1])]
    else:
        prediction_checks = []
    verify_panel(
        prediction_checks + [
            check_close("Mixer: Y[:, c] = A V[:, c] with the same A for every channel c", mixer_out, shared),
            check_close(f"multi-head MLP: channel c uses A_m of its head m = c // {per_head}", multihead_out, by_hand),
            check_true("the learned affinity is dense (every entry non-zero)", bool((learned != 0).all()),
                       f"{int((learned != 0).sum())} of {learned.numel()} non-zero"),
            check_true(f"the Mixer refuses a {height + 1} × {width + 1} grid (tied to N = {height * width})", refused,
                       "raises ValueError"),
        ],
        "token mixing is Y = A V with one learned, dense, static A per head (one in all for the Mixer)",
    )
    quiz(KEY, QUESTIONS)
