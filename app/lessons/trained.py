"""The ``trained`` lesson: what a trained network chose: the learned blends across training,
and what they can and cannot say.

The zoo's accuracy, a paired test and the paper's numbers are the ``zoo`` lesson."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from app.caching import TRAINED_MODELS_KEY
from app.figure_view import show_figure
from app.i18n import N_, _
from container_edu.training.sweep import FULL_SIZE
from container_edu.training.zoo_report import is_sweep_model, sweep_runs
from container_edu.models import ZooConfig, ZooContainer, blend_parameters
from container_edu.record.trace import record_affinities

from app.lessons.parts import figures
from app.lessons.parts.course import lesson_ref
from container_edu.hub.cards import describe_dataset
from app.lessons.parts.resources import (LessonModel, alpha_from_behaviour, bundled_cards, lesson_model, test_source,
                              train_command, try_test_batch)
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import (Prediction, Question, check_abs, check_close, check_prediction, goals,
                                       math_block, quiz, random_weights_warning, revealed, tex_words, verify_panel)

KEY = "trained"
TITLE = N_("What a trained network chose")
BLEND_MODELS = ("fmnist_container_light", "fmnist_container")
#: A blend closer than this to its starting 0.5 is read as "no lean" (a few hundredths is what short runs drift).
NEAR_START = 0.02
SHARE_IMAGES = 64  # test images the output share is averaged over

# Whole messages (N_), translated where drawn; the numbers are 0.5 ± NEAR_START (tests/test_i18n.py checks them).
LEAN_PREDICTIONS = (N_("towards attention (α above 0.52)"), N_("towards the conv (α below 0.48)"),
                    N_("nowhere clear (within 0.02 of 0.5)"))

#: The mixed blocks of the lesson's model, read off a freshly built one.
BLOCKS: tuple[str, ...] = tuple(blend_parameters(ZooContainer(ZooConfig(mixing="container_light"))))
PREDICTION = Prediction(
    "trained_lean_prediction",
    N_("Training started the first mixed block of fmnist_container_light, {block}, at α = 0.5. Where did it end?"),
    LEAN_PREDICTIONS,
    fields={"block": BLOCKS[0]},
)

GOALS = [
    N_("Read the learned blend (α, β) of every mixed block, and how it moved during training."),
    N_("Compare α with each branch's measured share of the block's output."),
    N_("Say how far α moves between seeds, and what the blend suggests and cannot prove."),
]

QUESTIONS = (
    Question(
        N_("A Container-Light block ends training with α = 0.8. Which conclusion is justified?"),
        (
            (N_("Its attention output is scaled by 0.8 and its conv output by 0.2, in this run"),
             N_("That is all α says, for this block, this run, this data. How much of the output each branch makes also "
                "depends on the size of the two branch outputs (see the output share): α is not a share.")),
            (N_("80% of the block's output comes from attention, 20% from the conv branch"),
             N_("α scales the attention output, but the two branches can have outputs of very different size; the "
                "measured output share can differ a lot from α.")),
            (N_("Attention is better than convolution for these images, since training chose it"),
             N_("One block of one small network on Fashion-MNIST cannot carry a claim about images in general.")),
        ),
        0,
    ),
    Question(
        N_("What would most strengthen the claim 'this block prefers dynamic context'?"),
        (
            (N_("Several seeds ending near the same α, and retraining at fixed α"),
             N_("Repeats measure the spread; retraining at fixed α asks what a network can do with that blend, not "
                "what this one lost when its blend was moved.")),
            (N_("Training the same run twice as long and checking that α stays put"),
             N_("Longer training of one run still gives one sample.")),
            (N_("Reporting α with more decimals and its final gradient"),
             N_("Precision of one number says nothing about its variability.")),
        ),
        0,
    ),
)


@st.cache_data(show_spinner=False)
def initial_blend(mixing: str) -> dict[str, list[float]]:
    """The blend an untrained model of this variant starts from (epoch 0 of the plot)."""
    return {block: list(pair) for block, pair in blend_parameters(ZooContainer(ZooConfig(mixing=mixing))).items()}


def _history_frame(name: str, history: list[dict], mixing: str | None) -> list[tuple[str, list[int], list[float]]]:
    """One α line per block; a β line too where β is a free parameter (general Container), not 1 − α."""
    series = []
    if mixing and history:
        history = [{"epoch": 0, "blend": initial_blend(mixing)}] + list(history)
    blocks = sorted({block for entry in history for block in entry.get("blend", {})})
    for block in blocks:
        entries = [entry for entry in history if block in entry.get("blend", {})]
        epochs = [entry["epoch"] for entry in entries]
        alphas = [entry["blend"][block][0] for entry in entries]
        betas = [entry["blend"][block][1] for entry in entries]
        series.append((f"{name} {block}: α", epochs, alphas))
        if any(abs(a + b - 1) > 1e-3 for a, b in zip(alphas, betas)):
            series.append((f"{name} {block}: β", epochs, betas))
    return series


@st.cache_data(show_spinner=False, max_entries=8)  # the caller shows a spinner in the session's language
def output_share(model_key: str, _loaded: LessonModel, _images: torch.Tensor) -> dict[str, float]:
    """Mean over images of ‖α A(X) V‖ / (‖α A(X) V‖ + ‖β (A_conv V + b)‖) per mixed block."""
    with torch.no_grad(), record_affinities() as records:
        _loaded.model(_images.to(_loaded.device))
    shares = {}
    for name, record in records.items():
        if record.attention is None or record.conv_weight is None:
            continue
        dynamic, static = record.dynamic_output(), record.static_output()  # α A(X) V and β (A_conv V + b)
        dynamic_norm, static_norm = dynamic.flatten(1).norm(dim=1), static.flatten(1).norm(dim=1)
        shares[name] = float((dynamic_norm / (dynamic_norm + static_norm)).mean())
    return shares


def _model_label(loaded: LessonModel) -> str:
    if loaded.card:
        return _("{name} (bundled, trained)").format(name=loaded.name)
    return _("{name} (random weights)").format(name=loaded.name)


def _block_line(block: str, alpha: float, beta: float, share: float | None) -> str:
    if abs(alpha - 0.5) < NEAR_START:
        leaning = _("no clear lean (within {band} of its start, 0.5)").format(band=NEAR_START)
    else:
        leaning = _("leans to attention (dynamic)") if alpha > 0.5 else _("leans to conv (static)")
    if share is None:
        return _("- `{block}`: α = {alpha:.3f}, β = {beta:.3f} → {leaning}.").format(
            block=block, alpha=alpha, beta=beta, leaning=leaning)
    return _("- `{block}`: α = {alpha:.3f}, β = {beta:.3f} → {leaning}; attention makes {percent:.0f}% of the branch "
             "output norm.").format(block=block, alpha=alpha, beta=beta, leaning=leaning, percent=100 * share)


def _suggestion(loaded: LessonModel, learned: dict[str, tuple[float, float]]) -> str:
    """What the learned blend suggests, in one paragraph."""
    if loaded.is_random:
        return _("nothing yet: these are untrained weights, so every block sits at its starting blend. Train the "
                 "bundled models (command above) or run {train_lesson}, then come back.").format(
                     train_lesson=lesson_ref("train"))
    moved = ", ".join(f"`{block}` {alpha - 0.5:+.3f}" for block, (alpha, _beta) in learned.items())
    directions = {block: alpha > 0.5 for block, (alpha, _beta) in learned.items() if abs(alpha - 0.5) >= NEAR_START}
    if not directions:
        return _("starting from α = 0.5, training moved α by {moved}: every block stayed within {band} of its start, "
                 "so this run shows no preference yet.").format(moved=moved, band=NEAR_START)
    if len(set(directions.values())) > 1 or len(directions) < len(learned):
        alphas = [alpha for alpha, _beta in learned.values()]
        ordered = all(a < b for a, b in zip(alphas, alphas[1:]))
        mixed = _("starting from α = 0.5, training moved α by {moved}: on a 7 × 7 grid, where attention is cheap, the "
                  "blocks did not all go the same way; the network set the mix block by block rather than "
                  "all-or-nothing.").format(moved=moved)
        if not ordered:
            return mixed
        return mixed + " " + _("Each later block leans more on attention than the one before. That is an observation "
                               "about this small network, not evidence for Container-Light's static-early, "
                               "dynamic-late design: "
                               "{reach_lesson}'s reason for it (cost at large N) does not apply inside one 7 × 7 "
                               "stage.").format(reach_lesson=lesson_ref("reach"))
    towards_attention = next(iter(directions.values()))
    extreme = [block for block, (alpha, _beta) in learned.items() if not 0.05 < alpha < 0.95]
    if extreme:
        template = (_("starting from α = 0.5, training moved α by {moved}: every block moved towards attention "
                      "(dynamic) context; {blocks} nearly dropped the other branch.") if towards_attention else
                    _("starting from α = 0.5, training moved α by {moved}: every block moved towards conv (static) "
                      "context; {blocks} nearly dropped the other branch."))
        return template.format(moved=moved, blocks=", ".join(extreme))
    template = (_("starting from α = 0.5, training moved α by {moved}: every block moved towards attention (dynamic) "
                  "context, but none came near 0 or 1: both branches stayed in use.") if towards_attention else
                _("starting from α = 0.5, training moved α by {moved}: every block moved towards conv (static) "
                  "context, but none came near 0 or 1: both branches stayed in use."))
    return template.format(moved=moved)


def _training_length(loaded: LessonModel) -> str:
    if loaded.card is None:
        return _("no training at all (random weights)")
    subset = (loaded.card.training or {}).get("train_subset")
    if subset:
        return _("{epochs} epochs on a {subset:,}-image subset of the training split").format(
            epochs=loaded.card.epochs, subset=subset)
    return _("{epochs} epochs on {dataset}").format(epochs=loaded.card.epochs,
                                                   dataset=describe_dataset(loaded.card))


def _why() -> None:
    st.markdown(_(
        "Training moves each block's α to wherever the loss prefers. It is tempting to read the result as "
        "\"the network prefers attention\", but α is one number from one run, and it scales a branch rather than "
        "measuring it. This lesson reads the blends the bundled models learned, sets α beside each branch's real "
        "share of the output, and checks how far α moves between training runs."))
    goals(GOALS)


def _idea() -> None:
    math_block(
        r"\alpha = \sigma(s),\ \ \beta = 1 - \sigma(s) \ \ (\text{Container-Light});\qquad "
        + tex_words(_("output share of attention")) + r" = \frac{\lVert \alpha A(X) V \rVert}"
        r"{\lVert \alpha A(X) V \rVert + \lVert \beta (A^{\mathrm{conv}} V + b) \rVert}",
        caption=_("Every bundled model's card records the blend of each mixed block after each epoch of training."),
    )


def _cards() -> dict:
    # The data-size sweep's small-data models are compared against size on the Model zoo page, not here.
    cards = {name: card for name, card in bundled_cards().items() if not is_sweep_model(card)}
    if not cards:
        random_weights_warning(_("an untrained {name}").format(name="fmnist_container_light"),
                               train_command("container_light"))
    return cards


def _blend_figure(cards: dict) -> None:
    series = []
    for name in BLEND_MODELS:
        if name in cards:
            series += _history_frame(name, cards[name].history, cards[name].variant)
    for name, run in st.session_state.get(TRAINED_MODELS_KEY, {}).items():
        series += _history_frame(_("your run {name}").format(name=name), run.get("history", []),
                                 run.get("settings", {}).get("mixing"))
    if not series:
        st.info(_("No blend history to plot yet: no bundled Container model and no run of your own "
                  "({train_lesson}).").format(train_lesson=lesson_ref("train")))
        return
    fig = figures.lines(series, _("Learned blend per mixed block after each epoch (α = weight of attention; "
                                  "epoch 0 = initialisation)"), _("epoch"), _("blend weight"),
                        y_range=(0, 1) if all(0 <= v <= 1 for _name, _x, ys in series for v in ys) else None)
    fig.add_hline(y=0.5, line_dash="dot", line_color="gray", annotation_text=_("start: α = β = 0.5"))
    show_figure(fig, key="trained_fig_blend")


def _predict_and_reveal() -> None:
    cards = _cards()
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    _blend_figure(cards)
    loaded = lesson_model("fmnist_container_light")
    learned = blend_parameters(loaded.model)
    first = next(iter(learned))
    data = try_test_batch()
    mix = loaded.model.get_submodule(first).mix
    sigma = torch.sigmoid(mix.sa_weight.detach()).double()
    probe = data[0][:16] if data is not None else torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    checks = [check_close(_("{block}: α measured from the block's outputs (Y(α) = Y(0) + α (Y(1) − Y(0))) "
                            "= sigmoid(sa_weight) of the weights").format(block=first),
                          [alpha_from_behaviour(loaded.model, first, probe.to(loaded.device))], sigma.reshape(1))]
    for name in BLEND_MODELS:
        if name not in cards:
            continue
        model_blend = blend_parameters(lesson_model(name).model)
        card = cards[name]
        blocks = sorted(card.final_blend)
        checks.append(check_abs(_("{name}: blend of the loaded weights = the card's final_blend").format(name=name),
                                [model_blend[b] for b in blocks], [card.final_blend[b] for b in blocks], 6e-6,
                                _("≤ 6e-06 absolute (the card stores 5 decimals)")))
        checks.append(check_close(_("{name}: card's final_blend = its last history entry").format(name=name),
                                  [card.final_blend[b] for b in blocks],
                                  [card.history[-1]["blend"][b] for b in blocks]))
    if loaded.is_random:
        checks.append(check_close(_("untrained: every block starts at α = β = 0.5 (sa_weight = 0)"),
                                  [v for pair in learned.values() for v in pair], [0.5] * (2 * len(learned))))
    checks.append(check_prediction(choice, lean_of(learned[first][0])))
    verify_panel(checks, _("the blends shown are the ones in the weights"), lesson=KEY)


def lean_of(alpha: float) -> str:
    """The prediction option that a block's learned α matches."""
    if abs(alpha - 0.5) < NEAR_START:
        return LEAN_PREDICTIONS[2]
    return LEAN_PREDICTIONS[0] if alpha > 0.5 else LEAN_PREDICTIONS[1]


def _share() -> None:
    _cards()
    loaded = lesson_model("fmnist_container_light")
    learned = blend_parameters(loaded.model)
    data = try_test_batch()
    shares = {}
    if data is not None:
        with st.spinner(_("Measuring each branch's share of the output…")):
            shares = output_share(f"{loaded.cache_key}|{test_source().directory}", loaded, data[0][:SHARE_IMAGES])
    st.markdown(_("α scales the attention branch; how much of the block's output it makes also depends on how large "
                  "each branch's output is. The share below is measured on {count} test images.").format(
        count=SHARE_IMAGES))
    lines = [_block_line(block, alpha, beta, shares.get(block)) for block, (alpha, beta) in learned.items()]
    st.markdown(f"**{_model_label(loaded)}**\n" + "\n".join(lines))
    st.markdown(_("**What this suggests:** {suggestion}").format(suggestion=_suggestion(loaded, learned)))


def _seeds() -> None:
    runs = seed_runs()
    if not runs:
        st.info(_("The results file holds no Container-Light runs on {size:,} images yet "
                  "(`python -m container_edu sweep run`).").format(size=FULL_SIZE))
        return
    blocks = sorted({block for run in runs for block in run["blend"]})
    st.markdown(_("The data-size sweep trained Container-Light {count} times on the same {size:,} images, changing "
                  "only the random seed (the bundled model is seed {bundled}). α per block, from the package's "
                  "results file:").format(count=len(runs), size=FULL_SIZE, bundled=runs[0]["seed"]))
    st.dataframe(pd.DataFrame([{_("seed"): run["seed"], **{f"α {block}": round(run["blend"][block][0], 3)
                                                          for block in blocks},
                                _("test accuracy %"): run["test_accuracy"]} for run in runs]),
                 hide_index=True, width="stretch")
    spreads = []
    for block in blocks:
        alphas = [run["blend"][block][0] for run in runs]
        leans = {lean_of(alpha) for alpha in alphas}
        agreement = (_("every seed: {lean}").format(lean=_(next(iter(leans)))) if len(leans) == 1
                     else _("the seeds disagree on the lean"))
        spreads.append(max(alphas) - min(alphas))
        st.markdown(_("- `{block}`: α = {alphas}, a spread of {spread:.3f}; {agreement}.").format(
            block=block, alphas=" / ".join(f"{alpha:.3f}" for alpha in alphas), spread=spreads[-1],
            agreement=agreement))
    st.markdown(_("**What it does not prove:** {seeds} seeds of one small network (α differs by up to {spread:.3f} "
                  "between them), 28 × 28 Fashion-MNIST (not ImageNet), a 7 × 7 mixed grid, {training_length}. And α "
                  "is not a share of the output.").format(seeds=len(runs), spread=max(spreads),
                                                          training_length=_training_length(
                                                              lesson_model("fmnist_container_light"))))
    card = bundled_cards().get("fmnist_container_light")
    bundled = next((run for run in runs if run.get("source", "").startswith("bundled card")), None)
    if card is not None and bundled is not None:
        verify_panel([check_abs(_("the results file's seed {seed} = the bundled card's final_blend").format(
                                    seed=bundled["seed"]),
                                [bundled["blend"][b] for b in blocks], [card.final_blend[b] for b in blocks], 6e-6,
                                _("≤ 6e-06 absolute (the card stores 5 decimals)"))],
                     _("the seed that is bundled is the one in the results file"))


def seed_runs(variant: str = "container_light", size: int = FULL_SIZE) -> list[dict]:
    """The sweep's runs of ``variant`` on ``size`` images with a recorded blend, by seed (read from the results file)."""
    return sorted((run for run in sweep_runs() if run["variant"] == variant and run["train_size"] == size
                   and run.get("blend")), key=lambda run: run["seed"])


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("share", N_("α is not a share"), _share),
    Step("seeds", N_("Other seeds"), _seeds),
    Step("check", N_("Check your understanding"), _check),
)
KEPT = ()


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
