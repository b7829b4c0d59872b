"""The ``measured`` lesson: dynamic or static, measured: one query on two images,
how far each head looks, and rollout."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch

from app.i18n import N_, _
from container_edu import analysis as an
from container_edu.ops import affinity as aff
from container_edu.record.trace import record_affinities

from app.lessons.parts import figures
from app.lessons.parts.resources import CLASS_NAMES, LessonModel, lesson_model, train_command, try_test_batch
from app.lessons.parts.widgets import (Question, check_close, check_true, goals, math_block, quiz, random_weights_warning,
                            tex_words, verify_panel)

KEY = "measured"
TITLE = N_("Dynamic or static, measured")
MODEL = "fmnist_container_light"
GALLERY_IMAGES = 100
PREDICTION_KEY = "measured_prediction"
#: The learner's prediction -> which rows differ between the two images (attention, conv).
PREDICTIONS = {
    N_("only the attention rows"): (True, False),
    N_("only the conv rows"): (False, True),
    N_("both"): (True, True),
    N_("neither"): (False, False),
}
#: The head gallery's labels (``container_edu.analysis``, English), to be translated where drawn.
HEAD_LABELS = (N_("local (conv-like)"), N_("global"), N_("local by construction (k×k kernel)"))

GOALS = [
    N_("Check on two pictures that a static affinity (conv) has the same rows for every image and attention does not."),
    N_("Compare how far each attention head looks with how far a conv kernel reaches, on one axis (tokens)."),
    N_("Read a rollout row as where a query's values were gathered from across a stage, and not as an explanation."),
]

QUESTIONS = (
    Question(
        N_("You replace image B with a third picture. Which entries of the conv part's row change?"),
        (
            (N_("None of them"),
             N_("The conv row is the kernel pasted at the query: it is made from weights alone, so every "
                "picture gives the same row. The conv's output changes, because V does.")),
            (N_("The entries near the object's edges, where the two pictures differ most"),
             N_("That is where the conv's output changes (its input V differs there), not its affinity: the row of "
                "weights is the same kernel on every picture.")),
            (N_("All of them, since the values V differ"),
             N_("V is what the row is applied to; the row itself is the kernel, "
                "which no picture changes.")),
        ),
        0,
    ),
    Question(
        N_("A head's mean attention distance equals the 5×5 kernel's distance. Is that head a convolution?"),
        (
            (N_("No: its weights still change with every image"),
             N_("The distance is an average over queries and pictures. The head's rows are still a softmax of this "
                "picture's queries and keys; the same reach does not make them a fixed kernel.")),
            (N_("Yes: the same reach means the same operator"),
             N_("Reach is one number; a conv has the same row at every query on every picture, which the first part "
                "of this lesson shows attention does not.")),
            (N_("Only if its entropy is also as low as the kernel's"),
             N_("Even equal distance and entropy are averages; the row still depends on the picture (measure it in the "
                "first part).")),
        ),
        0,
    ),
    Question(
        N_("The rollout row of query i puts a large weight on token j. What may you conclude?"),
        (
            (N_("Values from j reached i through the stage"),
             N_("Rollout multiplies the blocks' mixing matrices: a large entry means much of j's value was carried to i.")),
            (N_("Changing token j would change the prediction more than changing any other token"),
             N_("That is a claim about sensitivity, which rollout does not measure: the MLPs, W_o and the classifier "
                "are left out, and gathering from j is not depending on j.")),
            (N_("Token j is the pixel that decides the class"),
             N_("Attention and rollout weights say where values came from, not what the prediction depends on.")),
        ),
        0,
    ),
)


def _records(loaded: LessonModel, image: torch.Tensor):
    with torch.no_grad(), record_affinities() as records:
        loaded.model(image.to(loaded.device))
    return records


@st.cache_data(show_spinner=False, max_entries=8)  # the caller shows a spinner in the session's language
def gallery(model_key: str, count: int, _loaded: LessonModel, _images: torch.Tensor) -> an.Gallery:
    """The head gallery of the lesson's model over ``count`` images (cached per weights)."""
    return an.head_gallery(_loaded.model, [_images[:count]])


def _pictures() -> tuple[torch.Tensor, torch.Tensor | None, str]:
    data = try_test_batch()
    if data is not None:
        return data[0], data[1], _("Fashion-MNIST test images")
    noise = torch.randn(GALLERY_IMAGES, 1, 28, 28, generator=torch.Generator().manual_seed(9))
    return noise, None, _("random-noise images (Fashion-MNIST is not installed)")


def _name(labels: torch.Tensor | None, index: int) -> str:
    if labels is None:
        return _("test image {index}").format(index=index)
    return _("test image {index} ({name})").format(index=index, name=CLASS_NAMES[int(labels[index])])


def render() -> None:
    goals(GOALS)
    math_block(
        tex_words(_("dynamic: ")) + r"A_m(X) = \operatorname{softmax}\big(Q_m(X) K_m(X)^\top s\big)"
        r"\qquad " + tex_words(_("static: ")) + r"A^{\mathrm{conv}}_c[i, j] = w_c[p_j - p_i]",
        r"d_m = \frac{1}{N}\sum_i \sum_j A_m[i, j]\, \lVert p_i - p_j \rVert"
        r"\qquad H_m = -\frac{1}{N}\sum_i \sum_j A_m[i, j] \log A_m[i, j]",
        caption=_("X enters attention through Q and K; the conv's affinity is built from the kernel w alone. d_m is "
                  "how far head m looks on average (in tokens, p the grid position), H_m how spread its rows are (in "
                  "nats). For a kernel the same distance is taken over |w|, normalised to sum to 1."),
    )
    loaded = lesson_model(MODEL)
    if loaded.is_random:
        random_weights_warning(_("the {name} zoo model").format(name=MODEL), train_command("container_light"))
    images, labels, source = _pictures()
    height, width = loaded.model.config.mixed_grid
    blocks = an.stage_blocks(_records(loaded, images[:1]))

    st.subheader(_("1. One query, two images"))
    # The options stay English (the keys of PREDICTIONS); the labels are made in this run (see docs/translating.md).
    prediction_labels = {option: _(option) for option in PREDICTIONS}
    st.radio(_("Before you look: which rows of this block will differ between image A and image B?"),
             list(PREDICTIONS), index=None, key=PREDICTION_KEY, horizontal=True,
             format_func=prediction_labels.__getitem__)
    c1, c2, c3, c4, c5 = st.columns(5)
    index_a = c1.number_input(_("image A"), 0, len(images) - 1, 0, key="measured_image_a")
    index_b = c2.number_input(_("image B"), 0, len(images) - 1, 1, key="measured_image_b")
    block = c3.selectbox(_("block"), blocks, key="measured_block")
    head = c4.selectbox(_("head m"), list(range(loaded.model.config.num_heads)), key="measured_head")
    query = c5.select_slider(_("query token i"), list(range(height * width)),
                             value=aff.token_index(height // 2, width // 2, width), key="measured_query")
    records_a = _records(loaded, images[int(index_a):int(index_a) + 1])
    records_b = _records(loaded, images[int(index_b):int(index_b) + 1])
    compared = {c.kind: c for c in an.compare_rows(records_a[block], records_b[block], head, query)}
    attention, static = compared["attention"], compared["static"]
    yx = divmod(query, width)
    st.plotly_chart(figures.heatmaps_side_by_side(
        [(attention.row_a, f"A_{head}(X), {_name(labels, int(index_a))}"),
         (attention.row_b, f"A_{head}(X), {_name(labels, int(index_b))}")],
        _("Attention row i = t{query} of {block}, head {head}, on two images").format(query=query, block=block,
                                                                                       head=head),
        _("attention weight"), grid=True,
        query=yx, height=320), key="measured_fig_attention")
    st.plotly_chart(figures.heatmaps_side_by_side(
        [(static.row_a, _("A_{head}^conv, image A").format(head=head)),
         (static.row_b, _("A_{head}^conv, image B").format(head=head)),
         (static.row_a - static.row_b, _("image A − image B"))],
        _("Conv row i = t{query} of {block} (head {head}'s kernels averaged over its channels), on the same two "
          "images").format(query=query, block=block, head=head),
        _("conv weight"), diverging=True, grid=True, query=yx, height=320), key="measured_fig_static")
    st.caption(_("Measured: max |A − B| of the attention row {attention:.3g} (its largest entry {scale:.3g}); of the "
                 "conv row {conv:.3g}, and over every channel's kernel {conv_all:.3g}.").format(
                     attention=attention.max_abs_diff, scale=attention.scale, conv=static.max_abs_diff,
                     conv_all=static.max_abs_diff_all))

    st.subheader(_("2. How far each head looks, over {count} images").format(count=GALLERY_IMAGES))
    with st.spinner(_("Measuring every head over the test images…")):
        stats = gallery(loaded.cache_key, GALLERY_IMAGES, loaded, images)
    heads = [h for h in stats.heads if h.attention_distance is not None]

    def head_name(h) -> str:
        return _("{block} · head {head}").format(block=h.block, head=h.head)

    fig = go.Figure(go.Bar(x=[head_name(h) for h in heads], y=[h.attention_distance for h in heads],
                           error_y=dict(type="data", array=[h.attention_distance_std for h in heads]),
                           name=_("attention distance d_m"), marker_color="#2f6f8f",
                           text=[_(h.label) for h in heads], textposition="outside"))
    kernels = [h for h in stats.heads if h.static_distance is not None]
    fig.add_trace(go.Scatter(x=[head_name(h) for h in kernels], y=[h.static_distance for h in kernels],
                             mode="markers", name=_("that head's conv kernel (|w|)"), marker=dict(symbol="diamond",
                                                                                                 size=12,
                                                                                                 color="#d08c3c")))
    fig.add_hline(y=stats.local_threshold, line=dict(color="#555", dash="dot"),
                  annotation_text=_("flat {k}×{k} kernel: {distance:.2f} tokens").format(
                      k=stats.threshold_kernel, distance=stats.local_threshold))
    fig.update_layout(title=dict(text=_("Mean attention distance per head over {count} {source} (bars: sd over the "
                                        "images), next to each head's conv kernel").format(count=stats.num_images,
                                                                                           source=source)),
                      height=400, yaxis_title=_("mean distance (tokens)"), margin=dict(l=10, r=10, t=70, b=10))
    st.plotly_chart(fig, key="measured_fig_gallery")
    st.caption(_("A head at or below the dotted line ({distance:.2f} tokens) is labelled local (conv-like), above it "
                 "global. The kernel's distance does not depend on the images; the bars do.").format(
                     distance=stats.local_threshold))

    st.subheader(_("3. Rollout through the stage"))
    stage = an.stage_blocks(records_a)
    blended = an.stage_rollout(records_a, query, "blended")
    attention_only = an.stage_rollout(records_a, query, "attention")
    single = an.block_rollout_matrix(records_a[block], "blended")[query]
    st.plotly_chart(figures.heatmaps_side_by_side(
        [(blended.reshape(height, width), _("rollout, α A(X) + β |A^conv|")),
         (attention_only.reshape(height, width), _("rollout, attention only")),
         (single.reshape(height, width), _("{block} alone").format(block=block))],
        _("Where query t{query} of image A gathers from: through {count} blocks ({blocks}), heads averaged, "
          "0.5 A + 0.5 I per block").format(query=query, count=len(stage), blocks=", ".join(stage)),
        _("weight"), grid=True, query=yx, height=330), key="measured_fig_rollout")
    st.caption(_("Rollout leaves out the MLPs, W_o, normalisation and the earlier stages; signed conv weights count by "
                 "magnitude. It says where values travelled, not what the prediction depends on."))

    _verify(records_a, records_b, block, head, query, attention, blended)
    quiz(KEY, QUESTIONS)


def _verify(records_a, records_b, block, head, query, attention, blended) -> None:
    record = records_a[block]
    grid = record.grid
    # The head's distance on image A by hand: every weight times its token's Euclidean distance from the query.
    positions = torch.tensor([divmod(j, grid[1]) for j in range(record.num_tokens)], dtype=torch.float64)
    by_hand = (record.attention[0, head].double() * torch.cdist(positions, positions)).sum(-1).mean()
    conv_same = check_close(_("every channel's conv row is the same on both images (static)"),
                            records_a[block].static_row(query), records_b[block].static_row(query))
    attention_same = check_close(_("attention rows"), attention.row_a, attention.row_b)
    # What was measured, as the prediction's options name it: a row "differs" when it fails the equality check.
    measured = (not attention_same.passed, not conv_same.passed)
    truth = next(name for name, kinds in PREDICTIONS.items() if kinds == measured)
    checks = [
        conv_same,
        check_close(_("d_{head} of {block} on image A = Σ_j A[i, j]·‖p_i − p_j‖ averaged over queries").format(
                        head=head, block=block),
                    an.attention_distance(record.attention[:1], grid)[0, head], by_hand),
        check_close(_("the rollout row is a distribution (sums to 1)"), blended.sum(), torch.tensor(1.0)),
    ]
    prediction = st.session_state.get(PREDICTION_KEY)
    if prediction is not None:
        checks.append(check_true(_("your prediction: {prediction} differ").format(prediction=_(prediction)),
                                 prediction == truth,
                                 _("measured: {truth} (attention max |A − B| {difference:.2e}, relative "
                                   "{relative:.1e}; equal means ≤ 1e-05 relative)").format(
                                       truth=_(truth), difference=attention.max_abs_diff,
                                       relative=attention_same.relative)))
    else:
        st.caption(_("Pick a prediction at the top of part 1 to add it to the checks below."))
    verify_panel(checks, _("a conv row is the same on every picture, and the distances and rollout are what their "
                           "formulas say, and so is your prediction") if prediction is not None else
                 _("a conv row is the same on every picture, and the distances and rollout are what their formulas "
                   "say"))
