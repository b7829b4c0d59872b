"""The ``mixer`` lesson: MLP-Mixer token mixing, a static and dense affinity; the multi-head MLP in between."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from app.figure_view import show_figure
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
from app.lessons.parts.resources import LessonModel, lesson_model, train_command
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import (Prediction, Question, check_close, check_prediction, check_true, goals,
                                      math_block, quiz, random_weights_warning, revealed, tex_words, verify_panel)

KEY = "mixer"
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

PREDICTION = Prediction(
    "mixer_prediction",
    N_("Will the learned matrix run on the grid you picked?"),
    (N_("yes, it runs"), N_("no, it stops with an error")),
)
GRID_PREDICTIONS = PREDICTION.options
KEPT = ("mixer_block", "mixer_head", "mixer_grid", PREDICTION.key)


def _why() -> None:
    st.markdown(_(
        "MLP-Mixer showed that a network with neither convolution nor attention can classify images well: it mixes "
        "tokens with plain learned weights. In the language of affinities that is one more kind of A, fixed after "
        "training like a conv's but dense like attention's. Container's full model blends exactly this kind of "
        "static matrix with attention, so its strengths and its limits carry over."))
    goals(GOALS)


def _idea() -> None:
    math_block(
        r"\text{Mixer } (M = 1):\quad Y = A\,V,\qquad A \in \mathbb{R}^{N \times N} "
        + tex_words(_(" a learned parameter")),
        tex_words(_("multi-head MLP")) + r":\quad Y = \operatorname{concat}(A_0 V_0, \dots, A_{M-1} V_{M-1}),\qquad "
        r"A_m \in \mathbb{R}^{N \times N} " + tex_words(_(" learned")),
        caption=_("MLP-Mixer's real token-mixing MLP has two layers (N → D_S → N, a GELU between), applied to every "
                  "channel alike; one N × N matrix A is its one-layer, linear version. The zoo's 'mixer' variant is "
                  "a multi-head MLP: M = 4 one-layer N × N matrices, one per head of C/M channels. All three are "
                  "static and dense, have N² parameters per matrix, and are tied to the N they were trained on."),
    )
    meet_the_network(expanded=True)  # the first lesson that shows a trained zoo model


def _model() -> LessonModel:
    loaded = lesson_model(MODEL)
    if loaded.is_random:
        random_weights_warning(_("the {model} zoo model").format(model=MODEL), train_command("mixer"))
    return loaded


def _blocks(loaded: LessonModel) -> list[str]:
    return [name for name, module in loaded.model.named_modules() if isinstance(module, MultiHeadMLP)]


def _block_label(blocks: list[str], name: str) -> str:
    """A mixed block by its place in the network, with its module path (``blocks2.0``) for reference."""
    return _("mixed block {number} ({path})").format(number=blocks.index(name) + 1, path=name.removesuffix(".mix"))


def _chosen(loaded: LessonModel) -> tuple[str, MultiHeadMLP, int]:
    """The block and head picked in the "learned" step (the first of each until then)."""
    blocks = _blocks(loaded)
    block = st.session_state.get("mixer_block")
    block = block if block in blocks else blocks[0]
    mix: MultiHeadMLP = loaded.model.get_submodule(block)
    head = st.session_state.get("mixer_head")
    return block, mix, head if head in range(mix.num_heads) else 0


def _learned_matrix() -> None:
    loaded = _model()
    model = loaded.model
    blocks = _blocks(loaded)
    c1, c2, c3, c4 = st.columns(4)
    labels = {name: _block_label(blocks, name) for name in blocks}  # translated in the run, not in format_func
    block = c1.selectbox(_("block"), blocks, key="mixer_block", format_func=labels.__getitem__)
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
        show_figure(figures.heatmap(
            learned[head], _("Learned affinity A_{head} of mixed block {number} ({n} × {n}){suffix}").format(
                head=head, number=blocks.index(block) + 1, n=learned.shape[-1], suffix=suffix),
            f"A_{head}[i, j]", x_title=_("input token j"), y_title=_("output token i"), diverging=True, height=430),
            key="mixer_fig_matrix")
    with right:
        show_figure(figures.grid_map(
            learned[head, query].reshape(height, width),
            _("Row i = t{query} of A_{head} on the {height} × {width} grid").format(query=query, head=head,
                                                                                  height=height, width=width),
            f"A_{head}[i, j]", query=(qy, qx), diverging=True, height=430), key="mixer_fig_row")
    row = learned[head, query]
    st.caption(_("Row t{query}: {nonzero} of {total} entries non-zero (dense); sum {row_sum:.3f} (nothing makes it "
                 "1); largest weight on token t{largest}. The same matrix is used for every image.").format(
        query=query, nonzero=int((row != 0).sum()), total=row.numel(), row_sum=float(row.sum()),
        largest=int(row.abs().argmax())))


def _predict_and_reveal() -> None:
    loaded = _model()
    model = loaded.model
    block, mix, head = _chosen(loaded)
    height, width = model.config.mixed_grid
    st.markdown(_("**Tied to one grid.** Take A_{head} of {block}, learned on the {height} × {width} grid, and run "
                  "it as a Mixer (one A for all channels) on another grid:").format(
        head=head, block=_block_label(_blocks(loaded), block), height=height, width=width))
    grid_labels = {name: _(name) for name in GRIDS}
    grid_label = st.selectbox(_("run it on a grid of"), list(GRIDS), key="mixer_grid",
                              format_func=grid_labels.__getitem__)
    grid = GRIDS[grid_label]
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    channels = 8
    learned = mix.weight.detach().cpu().double()  # (M, N, N)
    mixer = TokenMixing(height * width).double()
    with torch.no_grad():
        mixer.weight.copy_(learned[head : head + 1])
    v_other = torch.randn(1, channels, *grid, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    try:
        with torch.no_grad():
            out = mixer(v_other)
        runs = True
        st.success(_("Runs: a {height} × {width} grid has {n} tokens, as the matrix expects; output shape "
                     "{shape}.").format(height=grid[0], width=grid[1], n=grid[0] * grid[1], shape=tuple(out.shape)))
    except ValueError as error:
        runs = False
        # Translators: {error} is the core's own message, in English.
        st.warning(_("The Mixer cannot run on this grid. Its error message: “{error}”.").format(error=error),
                   icon=":material/block:")
    with torch.no_grad():
        conv_out = DepthwiseConvAggregation(channels, 5).double()(v_other)
        qkv = torch.randn(1, 3 * channels, *grid, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        attention_out = MultiHeadSelfAttention(2)(qkv)
    st.caption(_("On the same {height} × {width} grid a 5 × 5 depthwise conv gives {conv_shape} and attention gives "
                 "{attention_shape}: their parameters do not depend on N.").format(
        height=grid[0], width=grid[1], conv_shape=tuple(conv_out.shape), attention_shape=tuple(attention_out.shape)))

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
    verify_panel(
        [check_prediction(choice, GRID_PREDICTIONS[0 if runs else 1]),
         check_close(_("Mixer: Y[:, c] = A V[:, c] with the same A for every channel c"), mixer_out, shared),
         check_close(_("multi-head MLP: channel c uses A_m of its head m = c // {per_head}").format(
             per_head=per_head), multihead_out, by_hand),
         check_true(_("the learned affinity is dense (every entry non-zero)"), bool((learned != 0).all()),
                    _("{nonzero} of {total} non-zero").format(nonzero=int((learned != 0).sum()),
                                                              total=learned.numel())),
         check_true(_("the Mixer stops with an error on a {height} × {width} grid (tied to N = {n})").format(
             height=height + 1, width=width + 1, n=height * width), refused, _("raises ValueError"))],
        _("token mixing is Y = A V with one learned, dense, static A per head (one in all for the Mixer)"),
        lesson=KEY,
    )


def _heads() -> None:
    loaded = lesson_model(MODEL)
    model = loaded.model
    height, width = model.config.mixed_grid
    dim, tokens = model.config.embed_dims[1], height * width
    zoo_heads = _chosen(loaded)[1].num_heads
    st.markdown(_("**From Mixer to multi-head MLP.** Parameters of the affinities on the mixed stage's grid "
                  "(N = {n}, C = {channels} channels):").format(n=tokens, channels=dim))
    rows = []
    for heads, name in ((1, _("MLP-Mixer token mixing")), (2, _("multi-head MLP")),
                        (zoo_heads, _("multi-head MLP (this zoo)")), (dim, _("one matrix per channel"))):
        rows.append({_("operator"): name, _("heads M"): heads, _("channels per matrix"): dim // heads,
                     _("affinity parameters"): count_parameters(MultiHeadMLP(tokens, heads))})
    rows.append({_("operator"): _("5 × 5 depthwise conv (for comparison)"), _("heads M"): dim,
                 _("channels per matrix"): 1,
                 _("affinity parameters"): count_parameters(DepthwiseConvAggregation(dim, 5)) - dim})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(_("The conv row counts kernel weights only (its bias is not part of A). Attention's affinity has no "
                 "parameters of its own: it is computed from Q and K."))


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("learned", N_("The learned matrix"), _learned_matrix),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("heads", N_("From Mixer to multi-head MLP"), _heads),
    Step("check", N_("Check your understanding"), _check),
)


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
