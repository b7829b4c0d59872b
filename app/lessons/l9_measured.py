"""Lesson 9: dynamic or static, measured: one query on two images, how far each head looks, and rollout."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch

from container_edu import analysis as an
from container_edu import affinity as aff
from container_edu.trace import record_affinities

from . import figures
from .resources import CLASS_NAMES, LessonModel, lesson_model, train_command, try_test_batch
from .widgets import (
    Question, check_close, check_true, goals, math_block, quiz, random_weights_warning, verify_panel,
)

KEY = "measured"
TITLE = "Dynamic or static, measured"
MODEL = "fmnist_container_light"
GALLERY_IMAGES = 100
PREDICTION_KEY = "l9_prediction"
#: The learner's prediction -> which rows differ between the two images (attention, conv).
PREDICTIONS = {
    "only the attention rows": (True, False),
    "only the conv rows": (False, True),
    "both": (True, True),
    "neither": (False, False),
}

GOALS = [
    "Check on two pictures that a static affinity (conv) has the same rows for every image and attention does not.",
    "Compare how far each attention head looks with how far a conv kernel reaches, on one axis (tokens).",
    "Read a rollout row as where a query's values were gathered from across a stage, and not as an explanation.",
]

QUESTIONS = (
    Question(
        "You replace image B with a third picture. Which entries of the conv part's row change?",
        (
            ("None of them", "The conv row is the kernel pasted at the query: it is made from weights alone, so every "
             "picture gives the same row. The conv's output changes, because V does."),
            ("The entries near the object's edges, where the two pictures differ most",
             "That is where the conv's output changes (its input V differs there), not its affinity: the row of "
             "weights is the same kernel on every picture."),
            ("All of them, since the values V differ", "V is what the row is applied to; the row itself is the kernel, "
             "which no picture changes."),
        ),
        0,
    ),
    Question(
        "A head's mean attention distance equals the 5×5 kernel's distance. Is that head a convolution?",
        (
            ("No: its weights still change with every image",
             "The distance is an average over queries and pictures. The head's rows are still a softmax of this "
             "picture's queries and keys; the same reach does not make them a fixed kernel."),
            ("Yes: the same reach means the same operator",
             "Reach is one number; a conv has the same row at every query on every picture, which the first part "
             "of this lesson shows attention does not."),
            ("Only if its entropy is also as low as the kernel's",
             "Even equal distance and entropy are averages; the row still depends on the picture (measure it in the "
             "first part)."),
        ),
        0,
    ),
    Question(
        "The rollout row of query i puts a large weight on token j. What may you conclude?",
        (
            ("Values from j reached i through the stage",
             "Rollout multiplies the blocks' mixing matrices: a large entry means much of j's value was carried to i."),
            ("Changing token j would change the prediction more than changing any other token",
             "That is a claim about sensitivity, which rollout does not measure: the MLPs, W_o and the classifier "
             "are left out, and gathering from j is not depending on j."),
            ("Token j is the pixel that decides the class",
             "Attention and rollout weights say where values came from, not what the prediction depends on."),
        ),
        0,
    ),
)


def _records(loaded: LessonModel, image: torch.Tensor):
    with torch.no_grad(), record_affinities() as records:
        loaded.model(image.to(loaded.device))
    return records


@st.cache_data(show_spinner="Measuring every head over the test images…", max_entries=8)
def gallery(model_key: str, count: int, _loaded: LessonModel, _images: torch.Tensor) -> an.Gallery:
    """The head gallery of the lesson's model over ``count`` images (cached per weights)."""
    return an.head_gallery(_loaded.model, [_images[:count]])


def _pictures() -> tuple[torch.Tensor, torch.Tensor | None, str]:
    data = try_test_batch()
    if data is not None:
        return data[0], data[1], "Fashion-MNIST test images"
    noise = torch.randn(GALLERY_IMAGES, 1, 28, 28, generator=torch.Generator().manual_seed(9))
    return noise, None, "random-noise images (Fashion-MNIST is not installed)"


def _name(labels: torch.Tensor | None, index: int) -> str:
    return f"test image {index}" + (f" ({CLASS_NAMES[int(labels[index])]})" if labels is not None else "")


def render() -> None:
    goals(GOALS)
    math_block(
        r"\text{dynamic: } A_m(X) = \operatorname{softmax}\big(Q_m(X) K_m(X)^\top s\big)"
        r"\qquad \text{static: } A^{\mathrm{conv}}_c[i, j] = w_c[p_j - p_i]",
        r"d_m = \frac{1}{N}\sum_i \sum_j A_m[i, j]\, \lVert p_i - p_j \rVert"
        r"\qquad H_m = -\frac{1}{N}\sum_i \sum_j A_m[i, j] \log A_m[i, j]",
        caption="X enters attention through Q and K; the conv's affinity is built from the kernel w alone. d_m is how "
        "far head m looks on average (in tokens, p the grid position), H_m how spread its rows are (in nats). For a "
        "kernel the same distance is taken over |w|, normalised to sum to 1.",
    )
    loaded = lesson_model(MODEL)
    if loaded.is_random:
        random_weights_warning(f"the {MODEL} zoo model", train_command("container_light"))
    images, labels, source = _pictures()
    height, width = loaded.model.config.mixed_grid
    blocks = an.stage_blocks(_records(loaded, images[:1]))

    st.subheader("1. One query, two images")
    st.radio("Before you look: which rows of this block will differ between image A and image B?",
             list(PREDICTIONS), index=None, key=PREDICTION_KEY, horizontal=True)
    c1, c2, c3, c4, c5 = st.columns(5)
    index_a = c1.number_input("image A", 0, len(images) - 1, 0, key="l9_image_a")
    index_b = c2.number_input("image B", 0, len(images) - 1, 1, key="l9_image_b")
    block = c3.selectbox("block", blocks, key="l9_block")
    head = c4.selectbox("head m", list(range(loaded.model.config.num_heads)), key="l9_head")
    query = c5.select_slider("query token i", list(range(height * width)),
                             value=aff.token_index(height // 2, width // 2, width), key="l9_query")
    records_a = _records(loaded, images[int(index_a):int(index_a) + 1])
    records_b = _records(loaded, images[int(index_b):int(index_b) + 1])
    compared = {c.kind: c for c in an.compare_rows(records_a[block], records_b[block], head, query)}
    attention, static = compared["attention"], compared["static"]
    yx = divmod(query, width)
    st.plotly_chart(figures.heatmaps_side_by_side(
        [(attention.row_a, f"A_{head}(X), {_name(labels, int(index_a))}"),
         (attention.row_b, f"A_{head}(X), {_name(labels, int(index_b))}")],
        f"Attention row i = t{query} of {block}, head {head}, on two images", "attention weight", grid=True,
        query=yx, height=320), key="l9_fig_attention")
    st.plotly_chart(figures.heatmaps_side_by_side(
        [(static.row_a, f"A_{head}^conv, image A"), (static.row_b, f"A_{head}^conv, image B"),
         (static.row_a - static.row_b, "image A − image B")],
        f"Conv row i = t{query} of {block} (head {head}'s kernels averaged over its channels), on the same two images",
        "conv weight", diverging=True, grid=True, query=yx, height=320), key="l9_fig_static")
    st.caption(f"Measured: max |A − B| of the attention row {attention.max_abs_diff:.3g} (its largest entry "
               f"{attention.scale:.3g}); of the conv row {static.max_abs_diff:.3g}, and over every channel's kernel "
               f"{static.max_abs_diff_all:.3g}.")

    st.subheader(f"2. How far each head looks, over {GALLERY_IMAGES} images")
    stats = gallery(loaded.cache_key, GALLERY_IMAGES, loaded, images)
    heads = [h for h in stats.heads if h.attention_distance is not None]
    fig = go.Figure(go.Bar(x=[f"{h.block} · head {h.head}" for h in heads], y=[h.attention_distance for h in heads],
                           error_y=dict(type="data", array=[h.attention_distance_std for h in heads]),
                           name="attention distance d_m", marker_color="#2f6f8f",
                           text=[h.label for h in heads], textposition="outside"))
    kernels = [h for h in stats.heads if h.static_distance is not None]
    fig.add_trace(go.Scatter(x=[f"{h.block} · head {h.head}" for h in kernels], y=[h.static_distance for h in kernels],
                             mode="markers", name="that head's conv kernel (|w|)", marker=dict(symbol="diamond",
                                                                                              size=12, color="#d08c3c")))
    fig.add_hline(y=stats.local_threshold, line=dict(color="#555", dash="dot"),
                  annotation_text=f"flat {stats.threshold_kernel}×{stats.threshold_kernel} kernel: "
                  f"{stats.local_threshold:.2f} tokens")
    fig.update_layout(title=dict(text=f"Mean attention distance per head over {stats.num_images} {source} (bars: sd "
                                 "over the images), next to each head's conv kernel"), height=400,
                      yaxis_title="mean distance (tokens)", margin=dict(l=10, r=10, t=70, b=10))
    st.plotly_chart(fig, key="l9_fig_gallery")
    st.caption(f"A head at or below the dotted line ({stats.local_threshold:.2f} tokens) is labelled local "
               "(conv-like), above it global. The kernel's distance does not depend on the images; the bars do.")

    st.subheader("3. Rollout through the stage")
    stage = an.stage_blocks(records_a)
    blended = an.stage_rollout(records_a, query, "blended")
    attention_only = an.stage_rollout(records_a, query, "attention")
    single = an.block_rollout_matrix(records_a[block], "blended")[query]
    st.plotly_chart(figures.heatmaps_side_by_side(
        [(blended.reshape(height, width), "rollout, α A(X) + β |A^conv|"),
         (attention_only.reshape(height, width), "rollout, attention only"),
         (single.reshape(height, width), f"{block} alone")],
        f"Where query t{query} of image A gathers from: through {len(stage)} blocks ({', '.join(stage)}), heads "
        "averaged, 0.5 A + 0.5 I per block", "weight", grid=True, query=yx, height=330), key="l9_fig_rollout")
    st.caption("Rollout leaves out the MLPs, W_o, normalisation and the earlier stages; signed conv weights count by "
               "magnitude. It says where values travelled, not what the prediction depends on.")

    _verify(records_a, records_b, block, head, query, attention, blended)
    quiz(KEY, QUESTIONS)


def _verify(records_a, records_b, block, head, query, attention, blended) -> None:
    record = records_a[block]
    grid = record.grid
    # The head's distance on image A by hand: every weight times its token's Euclidean distance from the query.
    positions = torch.tensor([divmod(j, grid[1]) for j in range(record.num_tokens)], dtype=torch.float64)
    by_hand = (record.attention[0, head].double() * torch.cdist(positions, positions)).sum(-1).mean()
    conv_same = check_close("every channel's conv row is the same on both images (static)",
                            records_a[block].static_row(query), records_b[block].static_row(query))
    attention_same = check_close("attention rows", attention.row_a, attention.row_b)
    # What was measured, as the prediction's options name it: a row "differs" when it fails the equality check.
    measured = (not attention_same.passed, not conv_same.passed)
    truth = next(name for name, kinds in PREDICTIONS.items() if kinds == measured)
    checks = [
        conv_same,
        check_close(f"d_{head} of {block} on image A = Σ_j A[i, j]·‖p_i − p_j‖ averaged over queries",
                    an.attention_distance(record.attention[:1], grid)[0, head], by_hand),
        check_close("the rollout row is a distribution (sums to 1)", blended.sum(), torch.tensor(1.0)),
    ]
    prediction = st.session_state.get(PREDICTION_KEY)
    if prediction is not None:
        checks.append(check_true(f"your prediction: {prediction} differ", prediction == truth,
                                 f"measured: {truth} (attention max |A − B| {attention.max_abs_diff:.2e}, relative "
                                 f"{attention_same.relative:.1e}; equal means ≤ 1e-05 relative)"))
    else:
        st.caption("Pick a prediction at the top of part 1 to add it to the checks below.")
    verify_panel(checks, "a conv row is the same on every picture, and the distances and rollout are what their "
                 "formulas say" + (", and so is your prediction" if prediction is not None else ""))
