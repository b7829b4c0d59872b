"""The ``mixer`` lesson: MLP-Mixer token mixing, a static and dense affinity; the multi-head MLP in between."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from app.i18n import N_, _
from container_edu.ops import affinity as aff
from container_edu.ops.aggregation import (
    DepthwiseConvAggregation,
    MultiHeadMLP,
    MultiHeadSelfAttention,
    TokenMixing,
    count_parameters,
)

from app.lessons.parts import figures
from app.lessons.parts.network import meet_the_network
from app.lessons.parts.resources import lesson_model, train_command
from app.lessons.parts.widgets import (Question, check_close, check_prediction, check_true, goals, math_block, predict, quiz,
                            random_weights_warning, tex_words, verify_panel)

KEY = "mixer"
GRID_PREDICTIONS = (N_("yes, it runs"), N_("no, it refuses"))
TITLE = N_("MLP-Mixer: static and dense")
MODEL = "fmnist_mixer"
GRIDS = {N_("7 × 7 (the grid it was built for)"): (7, 7), "8 × 8": (8, 8), "14 × 14": (14, 14), "5 × 10": (5, 10)}

GOALS = [
    N_("See token mixing as one learned N × N affinity shared by all channels: static (fixed after training) and "
       "dense."),
    N_("Understand why a learned N × N matrix ties the model to one grid size, while conv and attention are not "
       "tied."),
    N_("Place the multi-head MLP (M learned matrices, one per head) between the Mixer (M = 1) and per-channel "
       "matrices."),
]

QUESTIONS = (
    Question(
        N_("A Mixer layer was trained on 7 × 7 tokens. At test time the images give 8 × 8 tokens. What happens?"),
        (
            (N_("It cannot run: its {n} × {n} matrix fits only {n} tokens"),
             N_("The matrix is the parameter. A conv kernel or attention's W_q, W_k work on any N; a dense learned A "
                "does not (you would have to resize or retrain it).")),
            (N_("It runs, padding the extra tokens with zeros"),
             N_("Nothing in A V pads: a {n} × {n} A cannot multiply a {n_test} × C V.")),
            (N_("It runs, because its matrix is recomputed from the input like attention's"),
             N_("That is attention. The Mixer's A is a stored parameter, fixed after training.")),
        ),
        0,
        fields={"n": 7 * 7, "n_test": 8 * 8},
    ),
    Question(
        N_("How many parameters does one token-mixing matrix have on a 14 × 14 grid?"),
        (
            ("{squared:,}", N_("N = {n} tokens, so N² = {squared:,} weights per matrix.")),
            (N_("{n_c:,}: one weight per token and channel (N × C, C = 96)"),
             N_("That counts N × C. A token-mixing matrix has one weight per pair of tokens (shared by the channels "
                "it mixes), so N².")),
            ("{kernel}", N_("That is a 5 × 5 conv kernel's size, independent of the grid.")),
        ),
        0,
        fields={"n": 14 * 14, "squared": (14 * 14) ** 2, "n_c": 14 * 14 * 96, "kernel": 5 * 5},
    ),
    Question(
        N_("How does a multi-head MLP with M heads differ from MLP-Mixer token mixing?"),
        (
            (N_("M matrices, each shared by one head's C/M channels"),
             N_("Same static, dense kind of affinity; more matrices, each for a group of channels.")),
            (N_("Its M matrices are computed from the input, one per head, like attention's"),
             N_("Still static: the matrices are parameters.")),
            (N_("Each head uses its own k × k kernel, which makes it a grouped conv"),
             N_("Kernels are the conv's way; a multi-head MLP's matrices are dense.")),
        ),
        0,
    ),
)


def render() -> None:
    goals(GOALS)
    math_block(
        r"\text{Mixer } (M = 1):\quad Y = A\,V,\qquad A \in \mathbb{R}^{N \times N} "
        + tex_words(_(" a learned parameter")),
        tex_words(_("multi-head MLP")) + r":\quad Y = \operatorname{concat}(A_0 V_0, \dots, A_{M-1} V_{M-1}),\qquad "
        r"A_m \in \mathbb{R}^{N \times N} " + tex_words(_(" learned")),
        caption=_("MLP-Mixer's real token-mixing MLP has two layers, N → D_S → N with a GELU between (D_S hidden "
                  "units), applied to every channel alike; one N × N matrix A is its one-layer, linear version. The "
                  "zoo's 'mixer' variant is neither exactly: it is a multi-head MLP with M = 4 one-layer N × N "
                  "matrices, one per head of C/M channels. All three are static (the same for every image) and dense "
                  "(every token can reach every token), with N² parameters per matrix, and tied to the N they were "
                  "trained on."),
    )

    meet_the_network(expanded=True)  # the first lesson that shows a trained zoo model
    loaded = lesson_model(MODEL)
    if loaded.is_random:
        random_weights_warning(_("the {model} zoo model").format(model=MODEL), train_command("mixer"))
    model = loaded.model
    blocks = [name for name, module in model.named_modules() if isinstance(module, MultiHeadMLP)]
    c1, c2, c3, c4 = st.columns(4)
    block = c1.selectbox(_("block"), blocks, key="mixer_block")
    mix: MultiHeadMLP = model.get_submodule(block)
    height, width = model.config.mixed_grid
    head = c2.radio(_("head m"), list(range(mix.num_heads)), horizontal=True, key="mixer_head")
    qy = c3.slider(_("query row y"), 0, height - 1, 3, key="mixer_qy")
    qx = c4.slider(_("query column x"), 0, width - 1, 3, key="mixer_qx")
    query = aff.token_index(qy, qx, width)
    learned = mix.weight.detach().cpu().double()  # (M, N, N)
    suffix = _(" — random weights") if loaded.is_random else ""

    left, right = st.columns([1.5, 1])
    with left:
        st.plotly_chart(figures.heatmap(
            learned[head], _("Learned affinity A_{head} of {block}.mix ({n} × {n}){suffix}").format(
                head=head, block=block, n=learned.shape[-1], suffix=suffix),
            f"A_{head}[i, j]", x_title=_("input token j"), y_title=_("output token i"), diverging=True, height=430),
            key="mixer_fig_matrix")
    with right:
        st.plotly_chart(figures.grid_map(
            learned[head, query].reshape(height, width),
            _("Row i = t{query} of A_{head} on the {height} × {width} grid").format(query=query, head=head,
                                                                                  height=height, width=width),
            f"A_{head}[i, j]", query=(qy, qx), diverging=True, height=430), key="mixer_fig_row")
    row = learned[head, query]
    st.caption(_("Row t{query}: {nonzero} of {total} entries non-zero (dense); sum {row_sum:.3f} (nothing makes it "
                 "1); largest weight on token t{largest}. The same matrix is used for every image.").format(
        query=query, nonzero=int((row != 0).sum()), total=row.numel(), row_sum=float(row.sum()),
        largest=int(row.abs().argmax())))

    st.markdown(_("**Tied to one grid.** The same learned matrix as a Mixer (one A for all channels), run on another "
                  "grid:"))
    grid_labels = {name: _(name) for name in GRIDS}
    grid_label = st.selectbox(_("run it on a grid of"), list(GRIDS), key="mixer_grid",
                              format_func=grid_labels.__getitem__)
    grid = GRIDS[grid_label]
    prediction = predict("mixer_prediction", N_("Predict: will the learned matrix run on the grid you picked?"),
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
            st.info(_("Make your prediction to see whether it runs."))
        else:
            st.success(_("Runs: a {height} × {width} grid has {n} tokens, as the matrix expects; output shape "
                         "{shape}.").format(height=grid[0], width=grid[1], n=grid[0] * grid[1],
                                            shape=tuple(out.shape)))
    except ValueError as error:
        if prediction is None:
            st.info(_("Make your prediction to see whether it runs."))
        else:
            # Translators: {error} is the core's own message, in English.
            st.warning(_("The Mixer refuses this grid. Its own words: “{error}”.").format(error=error),
                       icon=":material/block:")
    with torch.no_grad():
        conv_out = DepthwiseConvAggregation(channels, 5).double()(v_other)
        qkv = torch.randn(1, 3 * channels, *grid, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        attention_out = MultiHeadSelfAttention(2)(qkv)
    st.caption(_("On the same {height} × {width} grid a 5 × 5 depthwise conv gives {conv_shape} and attention gives "
                 "{attention_shape}: their parameters do not depend on N.").format(
        height=grid[0], width=grid[1], conv_shape=tuple(conv_out.shape), attention_shape=tuple(attention_out.shape)))

    st.markdown(_("**From Mixer to multi-head MLP.** Parameters of the affinities on this grid "
                  "(N = {n}, C = {channels} channels):").format(n=height * width, channels=model.config.embed_dims[1]))
    dim, tokens = model.config.embed_dims[1], height * width
    rows = []
    for heads, name in ((1, _("MLP-Mixer token mixing")), (2, _("multi-head MLP")),
                        (mix.num_heads, _("multi-head MLP (this zoo)")), (dim, _("one matrix per channel"))):
        rows.append({_("operator"): name, _("heads M"): heads, _("channels per matrix"): dim // heads,
                     _("affinity parameters"): count_parameters(MultiHeadMLP(tokens, heads))})
    rows.append({_("operator"): _("5 × 5 depthwise conv (for comparison)"), _("heads M"): dim,
                 _("channels per matrix"): 1,
                 _("affinity parameters"): count_parameters(DepthwiseConvAggregation(dim, 5)) - dim})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(_("The conv row counts kernel weights only (its bias is not part of A). Attention's affinity has no "
                 "parameters of its own: it is computed from Q and K."))

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
            check_close(_("Mixer: Y[:, c] = A V[:, c] with the same A for every channel c"), mixer_out, shared),
            check_close(_("multi-head MLP: channel c uses A_m of its head m = c // {per_head}").format(
                per_head=per_head), multihead_out, by_hand),
            check_true(_("the learned affinity is dense (every entry non-zero)"), bool((learned != 0).all()),
                       _("{nonzero} of {total} non-zero").format(nonzero=int((learned != 0).sum()),
                                                                 total=learned.numel())),
            check_true(_("the Mixer refuses a {height} × {width} grid (tied to N = {n})").format(
                height=height + 1, width=width + 1, n=height * width), refused, _("raises ValueError")),
        ],
        _("token mixing is Y = A V with one learned, dense, static A per head (one in all for the Mixer)"),
    )
    quiz(KEY, QUESTIONS)
