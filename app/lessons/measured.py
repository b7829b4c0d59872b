"""The ``measured`` lesson: dynamic or static, measured: one query on two images, how far and how selectively
each head looks, and rollout."""

from __future__ import annotations

import math

import streamlit as st
import torch

from app import families, families_view
from app.figure_view import show_figure
from app.i18n import N_, _
from container_edu import analysis as an
from container_edu.figures import wrap_title
from container_edu.ops import affinity as aff
from container_edu.record.trace import record_affinities

from app.lessons.parts import figures
from app.lessons.parts import head_reach
from app.lessons.parts.resources import LessonModel, class_name, lesson_model, train_command, try_test_batch
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import (Prediction, Question, check_close, check_prediction, goals, math_block, quiz,
                                      random_weights_warning, revealed, tex_words, verify_panel)

KEY = "measured"
TITLE = N_("Dynamic or static, measured")
MODEL = "fmnist_container_light"
GALLERY_IMAGES = 100
#: The prediction's options -> which rows differ between the two images (attention, conv).
PREDICTIONS = {
    N_("only the attention rows"): (True, False),
    N_("only the conv rows"): (False, True),
    N_("both"): (True, True),
    N_("neither"): (False, False),
}
PREDICTION = Prediction(
    "measured_prediction",
    N_("Two different test images go through the same block. For one query, which of its rows will differ between "
       "image A and image B?"),
    tuple(PREDICTIONS),
)
PREDICTION_KEY = PREDICTION.key

GOALS = [
    N_("Check on two pictures that a static affinity (conv) has the same rows for every image and attention does not."),
    N_("Compare how far each attention head looks with a conv kernel and with uniform attention (in tokens), and "
       "tell from its entropy whether it is selective."),
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
             N_("Reach is one number; a conv has the same row at every query on every picture, which the two-image "
                "rows of this lesson show attention does not.")),
            (N_("Only if its entropy is also as low as the kernel's"),
             N_("Even equal distance and entropy are averages; the row still depends on the picture (compare its rows on "
                "two images).")),
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
    return _("test image {index} ({name})").format(index=index, name=class_name(int(labels[index])))


def _titled(fig, title: str, width: int):
    """``fig`` with ``title`` wrapped to ``width`` columns (a figure in a column is narrow; Plotly does not wrap)."""
    wrapped = wrap_title(title, width)
    lines = wrapped.count("<br>") + 1
    # Room for the title's lines and for two-line panel titles under it.
    fig.update_layout(title=dict(text=wrapped, y=1.0, yref="container", yanchor="top", pad=dict(t=12)), height=fig.layout.height + 20 * lines,
                      margin=dict(t=70 + 20 * lines))
    return fig


def _model() -> LessonModel:
    loaded = lesson_model(MODEL)
    if loaded.is_random:
        random_weights_warning(_("the {name} zoo model").format(name=MODEL), train_command("container_light"))
    return loaded


def _chosen(loaded: LessonModel, images: torch.Tensor) -> tuple[int, int, str, int, int]:
    """Image A, image B, block, head and query: the widgets of the predict step, kept for the later steps."""
    height, width = loaded.model.config.mixed_grid
    blocks = an.stage_blocks(_records(loaded, images[:1]))
    state = st.session_state
    block = state.get("measured_block")
    head = state.get("measured_head", 0)
    return (int(state.get("measured_image_a", 0)), int(state.get("measured_image_b", 1)),
            block if block in blocks else blocks[0], int(head),
            int(state.get("measured_query", aff.token_index(height // 2, width // 2, width))))


def _why() -> None:
    st.markdown(_(
        "The earlier lessons built each affinity by hand. Here a trained Container-Light shows what they do on real "
        "pictures: when the picture changes, which of their rows change? How far does each "
        "head look, and is it picking a few tokens or spreading its weight over all of them? Each answer is a "
        "measurement, with its limits stated."))
    goals(GOALS)


def _idea() -> None:
    math_block(
        tex_words(_("dynamic: ")) + r"A_m(X) = \operatorname{softmax}\big(Q_m(X) K_m(X)^\top s\big)"
        r"\qquad " + tex_words(_("static: ")) + r"A^{\mathrm{conv}}_c[i, j] = w_c[p_j - p_i]",
        r"d_m = \frac{1}{N}\sum_i \sum_j A_m[i, j]\, \lVert p_i - p_j \rVert"
        r"\qquad H_m = -\frac{1}{N}\sum_i \sum_j A_m[i, j] \log A_m[i, j] \;\le\; \log N",
        caption=_("X enters attention through Q and K; the conv's affinity is built from the kernel w alone. d_m is "
                  "how far head m looks on average (in tokens, p the grid position); H_m how spread its rows are (in "
                  "nats): log N for a row spread evenly over all N tokens, 0 for a row on one token."),
    )


def _predict_and_reveal() -> None:
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    loaded = _model()
    images, labels, _source = _pictures()
    height, width = loaded.model.config.mixed_grid
    blocks = an.stage_blocks(_records(loaded, images[:1]))
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
    left, right = st.columns([1, 1.2])
    with left:
        show_figure(_titled(figures.heatmaps_side_by_side(
            [(attention.row_a, f"A_{head}(X)<br>" + _("image A")), (attention.row_b, f"A_{head}(X)<br>" + _("image B"))],
            "", _("attention weight"), grid=True, query=yx, height=320),
            _("Attention row i = t{query} of {block}, head {head}. Image A: {image_a}; image B: {image_b}").format(
                query=query, block=block, head=head, image_a=_name(labels, int(index_a)),
                image_b=_name(labels, int(index_b))), 50), key="measured_fig_attention")
    with right:
        show_figure(_titled(figures.heatmaps_side_by_side(
            [(static.row_a, f"A_{head}^conv<br>" + _("image A")),
             (static.row_b, f"A_{head}^conv<br>" + _("image B")),
             (static.row_a - static.row_b, _("image A − image B"))],
            "", _("conv weight"), diverging=True, grid=True, query=yx, height=320),
            _("Conv row i = t{query} of {block} (head {head}'s kernels averaged over its channels), on the same two "
              "images").format(query=query, block=block, head=head), 60), key="measured_fig_static")
    conv_same = check_close(_("every channel's conv row is the same on both images (static)"),
                            records_a[block].static_row(query), records_b[block].static_row(query))
    attention_same = check_close(_("attention rows"), attention.row_a, attention.row_b)
    # What was measured, as the prediction's options name it: a row "differs" when it fails the equality check.
    measured = (not attention_same.passed, not conv_same.passed)
    truth = next(name for name, kinds in PREDICTIONS.items() if kinds == measured)
    st.caption(_("Measured: max |A − B| of the attention row {attention:.3g} (its largest entry {scale:.3g}); of the "
                 "conv row {conv:.3g}, and over every channel's kernel {conv_all:.3g}. Equal means ≤ 1e-05 "
                 "relative.").format(attention=attention.max_abs_diff, scale=attention.scale,
                                     conv=static.max_abs_diff, conv_all=static.max_abs_diff_all))
    verify_panel([check_prediction(choice, truth), conv_same],
                 _("a conv row is the same on every picture, and your prediction of which rows differ holds"),
                 lesson=KEY)


def _reach() -> None:
    loaded = _model()
    images, _labels, source = _pictures()
    with st.spinner(_("Measuring every head over the test images…")):
        stats = gallery(loaded.cache_key, GALLERY_IMAGES, loaded, images)
    heads = head_reach.attention_heads(stats)
    grid, uniform_distance, log_n = head_reach.uniform_reference(stats)
    distances = [h.attention_distance for h in heads]
    entropies = [h.attention_entropy for h in heads]
    left, right = st.columns(2)
    with left:
        show_figure(head_reach.distance_figure(stats, source), key="measured_fig_gallery")
    with right:
        show_figure(head_reach.entropy_figure(stats), key="measured_fig_entropy")
    st.caption(_("Every head reaches {low:.2f}–{high:.2f} tokens: farther than a flat {k}×{k} kernel ({flat:.2f}), "
                 "and about as far as uniform attention on the {height}×{width} grid ({uniform:.2f}). Distance alone "
                 "cannot tell a head that picks a few far tokens from one that averages them all: a uniform row is "
                 "far-reaching but not selective.").format(
                     low=min(distances), high=max(distances), k=stats.threshold_kernel, flat=stats.local_threshold,
                     height=grid[0], width=grid[1], uniform=uniform_distance))
    st.caption(_("The entropy tells them apart: the heads measure H_m = {low:.2f}–{high:.2f} nats, below log {count} "
                 "= {log_n:.2f} of a uniform row. Entropy below log N is the evidence that the heads are selective: "
                 "each query puts its weight on part of the grid, and, as the prediction showed, on a different "
                 "part for every picture.").format(low=min(entropies), high=max(entropies), count=grid[0] * grid[1], log_n=log_n))
    _verify_reach(loaded, images, grid, uniform_distance, log_n)


def _verify_reach(loaded: LessonModel, images: torch.Tensor, grid, uniform_distance: float, log_n: float) -> None:
    _a, _b, block, head, _query = _chosen(loaded, images)
    record = _records(loaded, images[:1])[block]
    # The head's distance and entropy on image A by hand: every weight times its token's distance from the query.
    positions = torch.tensor([divmod(j, record.grid[1]) for j in range(record.num_tokens)], dtype=torch.float64)
    distances = torch.cdist(positions, positions)
    rows = record.attention[0, head].double()
    by_hand = (rows * distances).sum(-1).mean()
    entropy_by_hand = -(rows * rows.clamp_min(1e-300).log()).sum(-1).mean()
    tokens = grid[0] * grid[1]
    uniform_positions = torch.tensor([divmod(j, grid[1]) for j in range(tokens)], dtype=torch.float64)
    verify_panel([
        check_close(_("d_{head} of {block} on image 0 = Σ_j A[i, j]·‖p_i − p_j‖ averaged over queries").format(
                        head=head, block=block),
                    an.attention_distance(record.attention[:1], record.grid)[0, head], by_hand),
        check_close(_("H_{head} of {block} on image 0 = −Σ_j A[i, j] log A[i, j] averaged over queries").format(
                        head=head, block=block),
                    an.attention_entropy(record.attention[:1])[0, head], entropy_by_hand),
        check_close(_("uniform attention: its distance is the mean distance between two tokens of the grid"),
                    [uniform_distance], [float(torch.cdist(uniform_positions, uniform_positions).mean())]),
        check_close(_("uniform attention: its entropy is log N"), [log_n], [math.log(tokens)]),
    ], _("the distances and entropies are what their formulas say"))


def _rollout() -> None:
    loaded = _model()
    images, _labels, _source = _pictures()
    height, width = loaded.model.config.mixed_grid
    index_a, _b, block, _head, query = _chosen(loaded, images)
    records_a = _records(loaded, images[index_a:index_a + 1])
    stage = an.stage_blocks(records_a)
    blended = an.stage_rollout(records_a, query, "blended")
    attention_only = an.stage_rollout(records_a, query, "attention")
    single = an.block_rollout_matrix(records_a[block], "blended")[query]
    show_figure(figures.heatmaps_side_by_side(
        [(blended.reshape(height, width), _("rollout, α A(X) + β |A^conv|")),
         (attention_only.reshape(height, width), _("rollout, attention only")),
         (single.reshape(height, width), _("{block} alone").format(block=block))],
        _("Where query t{query} of image A gathers from: through {count} blocks ({blocks}), heads averaged, "
          "0.5 A + 0.5 I per block").format(query=query, count=len(stage), blocks=", ".join(stage)),
        _("weight"), grid=True, query=divmod(query, width), height=330), key="measured_fig_rollout")
    st.caption(_("Rollout leaves out the MLPs, W_o, normalisation and the earlier stages; signed conv weights count by "
                 "magnitude. It says where values travelled, not what the prediction depends on."))
    verify_panel([check_close(_("the rollout row is a distribution (sums to 1)"), blended.sum(), torch.tensor(1.0))],
                 _("the rollout row is a distribution over the tokens"))


def _families() -> None:
    """The three families trained at scale (issue 24): the two-image check when their weights are installed."""
    st.markdown(_(
        "You measured this on a small Fashion-MNIST model. The **Three families** view asks the same question of the "
        "three families the paper unifies, trained on ImageNet by their publishers, beside Container-Light on one "
        "photo: DeiT-Small's attention heads, ConvNeXt-Tiny's 7×7 depthwise kernels and MLP-Mixer-B/16's "
        "token-mixing MLP, all on the same 14×14 grid of patches: **does the row change with the image?**"))
    found = families.sources()
    stand_ins = [name for name, source in found.items() if source.random]
    if len(stand_ins) < len(found):
        families_view.random_notice(found)
        families_view.family_check("measured_fam")
    else:
        st.info(_(
            "The trained weights are not installed here, so this step runs nothing. With them it would show, for "
            "the centre patch of two sample photos: DeiT's head rows and class-token weights changing with the "
            "photo; ConvNeXt's kernels and the Mixer's linear part W₂W₁ identical on both (difference exactly 0: "
            "made from the weights alone); the Mixer's Jacobian changing with the photo (its GELU depends on the "
            "input); Container-Light's blended rows changing through their attention part. The view itself runs "
            "with random weights and says so."), icon=":material/info:")
        st.code("\n".join(f"python -m container_edu weights fetch {families.FETCH_NAMES[name]}".rstrip()
                          for name in stand_ins), language="bash", wrap_lines=True)
    families_view.open_view_button("measured_open_families")


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("reach", N_("How far, and how selectively, each head looks"), _reach),
    Step("rollout", N_("Rollout through the stage"), _rollout),
    Step("families", N_("Three families, trained at scale"), _families),
    Step("check", N_("Check your understanding"), _check),
)
KEPT = ("measured_image_a", "measured_image_b", "measured_block", "measured_head", "measured_query")


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
