"""The ``train`` lesson: train a small Container yourself, live, and watch its blend move.

How stopping works (see ``container_edu/training/job.py`` for the reasons): the Start
button's callback starts a :class:`TrainingJob` thread that this session
owns (``st.session_state["train_job"]``); a fragment reruns every second while
it runs and draws the job's progress; the Stop button's callback sets the
job's stop event, which ``train(should_stop=...)`` polls after every step.
When the thread ends it stores the model in the session's
``st.session_state[TRAINED_MODELS_KEY][name]`` (the key of ``app.caching`` that
the model picker reads; the dict itself was handed to it at Start), for the
Inspector and Blend pages; the next rerun re-enables Start.

The prediction (how much of α's move a long run makes in its first epoch) is asked, and settled by the bundled
run's card, before the live run is offered: the learner commits to how α moves before watching it move.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
import torch

from app import deployment
from app.caching import TRAINED_MODELS_KEY
from app.figure_view import show_figure
from app.i18n import N_, _, ngettext
from container_edu.data import NUM_CLASSES, SUBSET_PER_CLASS, DataSource, data_source
from container_edu.models import MIXINGS, ZooContainer, blend_parameters
from container_edu.training.train import TrainSettings

from app.lessons.parts import figures
from app.lessons.parts.adam_reach import alpha_ceiling, default_betas, step_bound, step_bound_limit
from app.lessons.parts.course import lesson_ref
from container_edu.hub.cards import describe_dataset
from app.lessons.parts.progress import session_store
from app.lessons.parts.resources import alpha_from_behaviour, bundled_cards, source_label, try_test_batch
from app.lessons.parts.steps import Step, go_to_step
from container_edu.training.job import (MAX_CONCURRENT_RUNS, MAX_WAITING_RUNS, TRAINING_QUEUE, TrainingJob,
                                         keep_trained)
from app.lessons.parts.widgets import (Prediction, Question, check_abs, check_close, check_prediction, check_true,
                                      goals, math_block, quiz, revealed, tex_words, verify_panel)
from app.lessons.trained import NEAR_START

KEY = "train"
TITLE = N_("Train one yourself")
JOB_KEY = "train_job"
SUBSETS = (256, 500, 1000, 2000, 3000, 5000, 10000)
DEFAULT_SUBSET = 2000  # with the default 2 epochs: 32 steps, seconds on a laptop; the time-lapse shows a long run
# A move of α smaller than this is "no clear lean" (the ``trained`` lesson's band around 0.5): a run whose ceiling is
# below it is called short on the page.
VISIBLE_MOVE = NEAR_START
POLL_SECONDS = 1.0
BUNDLED_RUN = "fmnist_container_light"
#: The prediction's options: the share of the bundled run's whole move of α made in its first epoch.
FIRST_EPOCH_SHARES = (N_("less than half: most of the move comes in later epochs"),
                      N_("half or more: α moves early, then settles"))
PREDICTION = Prediction(
    "train_prediction",
    N_("The bundled Container-Light run started every block at α = 0.5 and trained for several epochs. By the end of "
       "its first epoch, how much of blocks2.0's whole move (from 0.5 to where α ended) had α made?"),
    FIRST_EPOCH_SHARES,
)

GOALS = [
    N_("Train a small Container on Fashion-MNIST and watch the loss and the blend α = sigmoid(sa_weight) move."),
    N_("See that α is learned by gradient descent like every other weight, starting from α = β = 0.5, and how far "
       "AdamW can move it in a run of a given length."),
    N_("Keep the trained model in this session and open it on the Inspector and Blend pages."),
]

QUESTIONS = (
    Question(
        N_("What moves a block's sa_weight during training?"),
        (
            (N_("The training loss's gradient, ∂L/∂s = α(1 − α)·∂L/∂α"),
             N_("sa_weight is an ordinary parameter; the optimiser follows the loss (this recipe does not weight-decay it).")),
            (N_("A rule in the block that raises α when the grid is small enough for attention"),
             N_("No such rule exists: nothing but the loss moves it.")),
            (N_("The softmax of the attention branch"),
             N_("The softmax normalises attention rows; it does not set α.")),
        ),
        0,
    ),
    Question(
        N_("For which α does a step of gradient descent move α the least (for the same ∂L/∂α)?"),
        (
            (N_("α close to 0 or 1"), N_("dα/ds = α(1 − α) vanishes at both ends: a saturated blend changes slowly.")),
            (N_("α = 0.5"), N_("There dα/ds = 0.25 is largest: α moves fastest from its starting point.")),
            (N_("It does not depend on α"), N_("The sigmoid's slope α(1 − α) makes it depend on α.")),
        ),
        0,
    ),
    Question(
        N_("You stopped a run after 300 images. Is its final α 'the' blend this architecture wants?"),
        (
            (N_("No: one short run from one seed; α may still be moving"),
             N_("Read it as a trajectory. Longer runs, more data and several seeds are needed before calling it a preference.")),
            (N_("Yes: α settles within the first hundred steps and then stays fixed"),
             N_("Replay the bundled run's time-lapse: α keeps drifting for several epochs of hundreds of steps each.")),
            (N_("Yes, if the loss went down"), N_("A falling loss says the network learns, not that α has converged.")),
        ),
        0,
    ),
)


def _settings_from_widgets() -> tuple[str, TrainSettings]:
    state = st.session_state
    mixing = state.get("train_mixing", "container_light")
    subset = int(state.get("train_subset", DEFAULT_SUBSET))
    settings = TrainSettings(mixing=mixing, epochs=int(state.get("train_epochs", 2)), train_subset=subset,
                             seed=int(state.get("train_seed", 0)))
    name = (state.get("train_name") or "").strip() or f"live_{mixing}_{subset}"
    return name, settings


def _subsets(source: DataSource) -> tuple[int, ...]:
    """The training-set sizes this data source can give (the shipped subset holds fewer images than the full set)."""
    if not source.is_subset:
        return SUBSETS
    available = SUBSET_PER_CLASS["train"] * NUM_CLASSES
    held_out = round(available * TrainSettings().val_fraction)
    return tuple(size for size in SUBSETS if size <= available - held_out) + (available - held_out,)


def _start() -> None:
    name, settings = _settings_from_widgets()
    owner, owner_alive = deployment.session_owner()
    job = TrainingJob.start(name, settings, destination=st.session_state.setdefault(TRAINED_MODELS_KEY, {}),
                            data_dir=data_source().directory, owner=owner, owner_alive=owner_alive)
    if job is None:
        # "own": this session has a run waiting or training already (one per session); else the line is full.
        st.session_state["train_busy"] = "own" if owner is not None and TRAINING_QUEUE.owner_busy(owner) else True
    else:
        st.session_state["train_busy"] = False
        st.session_state[JOB_KEY] = job


def _stop() -> None:
    job = st.session_state.get(JOB_KEY)
    if job is not None:
        job.request_stop()


def _collect(job: TrainingJob | None) -> None:
    """Once per finished run: make sure ``trained_models`` holds it (the thread stored it already, unless the
    dict was replaced meanwhile) and mark it shown, so that the page stops polling."""
    if job is None or not job.finished or job.collected:
        return
    if job.result is not None:
        trained = st.session_state.setdefault(TRAINED_MODELS_KEY, {})
        if job.name not in trained:
            keep_trained(trained, job.name, job.stored_entry())
    job.collected = True


def _progress_view() -> None:
    job: TrainingJob | None = st.session_state.get(JOB_KEY)
    if job is None:
        st.info(_("No run yet. Choose the settings and press Start."))
        return
    if job.finished and not job.collected:
        st.rerun()  # a full rerun stores the model and re-enables Start
    snap = job.snapshot()
    done = snap.steps[-1] if snap.steps else 0
    total = snap.total_steps or 1
    if snap.status == "queued":
        _queue_view(job, snap.queue_position)
        return
    # The job's thread records a status code (it has no session, so no language); it is put in words here.
    label = {"running": _("training"), "done": _("finished"), "stopped": _("stopped early"), "failed": _("failed"),
             "cancelled": _("cancelled before it started")}[snap.status]
    if job.stop_requested and snap.status == "running":
        label = _("stopping after this step…")
    if not (job.collected and job.result is not None):  # a finished run's own message below says where it is
        st.progress(min(done / total, 1.0), text=_("{name}: {status} — step {done} of {total}, {seconds:.0f} s").format(
            name=job.name, status=label, done=done, total=snap.total_steps or "?", seconds=snap.elapsed))
    if snap.error:
        # The error itself is Python's exception message, shown as it was raised.
        st.error(_("Training failed: {error}").format(error=deployment.without_server_folders(snap.error)))
    if not snap.steps:
        st.caption(_("Loading Fashion-MNIST and building the model…"))
        return
    window = 10
    smoothed = [sum(snap.losses[max(0, k - window + 1): k + 1]) / len(snap.losses[max(0, k - window + 1): k + 1])
                for k in range(len(snap.losses))]
    left, right = st.columns(2)
    with left:
        show_figure(figures.lines(
            [(_("loss per step"), snap.steps, snap.losses),
             (_("mean of the last {count} steps").format(count=window), snap.steps, smoothed)],
            _("Training loss L per step ({mixing})").format(mixing=job.settings.mixing), _("step"),
            _("loss (cross-entropy)"), markers=False, height=260), key="train_fig_loss")
    blocks = sorted(snap.blends[-1]) if snap.blends and snap.blends[-1] else []
    if blocks:
        series = [(f"{block}: α", snap.steps, [b[block][0] for b in snap.blends]) for block in blocks]
        if job.settings.mixing == "container":  # the general Container learns β separately
            series += [(f"{block}: β", snap.steps, [b[block][1] for b in snap.blends]) for block in blocks]
        title = (_("Blend α = sigmoid(sa_weight) per block") if job.settings.mixing == "container_light"
                 else _("Blend α, β per block"))
        values = [v for _name, _x, ys in series for v in ys]
        # At least 0.4..0.6, so that the first tiny moves of α are not blown up to the full height.
        y_range = (min(0.4, min(values) - 0.02), max(0.6, max(values) + 0.02))
        with right:
            show_figure(figures.lines(series, title, _("step"), _("blend weight"), markers=False, y_range=y_range,
                                      height=260), key="train_fig_blend")
    else:
        right.info(_("The {mixing} variant has no blend parameter: its mixed stage uses one affinity type.").format(
            mixing=job.settings.mixing))


def _queue_view(job: TrainingJob, position: int | None) -> None:
    """Where a queued run stands: the learner's place in the server's line for a training slot."""
    if job.stop_requested:
        st.info(_("{name}: leaving the queue…").format(name=job.name), icon=":material/hourglass_empty:")
    elif position:
        ahead = position - 1
        slots = ngettext("{count} run", "{count} runs", MAX_CONCURRENT_RUNS).format(count=MAX_CONCURRENT_RUNS)
        ahead_runs = ngettext("{count} run", "{count} runs", ahead).format(count=ahead)
        st.info(_("**{name}: waiting for a training slot, number {position} in the queue** ({ahead} ahead of yours). "
                  "This server trains {slots} at a time for everyone; yours starts by itself when its turn comes. You "
                  "can leave this page meanwhile.").format(name=job.name, position=position, ahead=ahead_runs,
                                                           slots=slots),
                icon=":material/hourglass_top:")
    else:
        st.caption(_("{name}: starting…").format(name=job.name))


def _epochs_text(epochs: int) -> str:
    return ngettext("{count} epoch", "{count} epochs", epochs).format(count=epochs)


def first_epoch_share(card, block: str) -> float | None:
    """The share of ``block``'s whole move of α (0.5 → its final α) made by the end of the first epoch."""
    if not card.history:
        return None
    total = card.final_blend[block][0] - 0.5
    if abs(total) < 1e-5:  # the card stores 5 decimals: no move to take a share of
        return None
    return (float(card.history[0]["blend"][block][0]) - 0.5) / total


def _why() -> None:
    st.markdown(_(
        "So far every blend was read off a network someone else trained. Here you train one and watch α move. "
        "Nothing sets α but the loss's gradient, and an optimiser step is small: how far α can move in a run "
        "depends on how many steps the run has. A short run shows the start of a trajectory, not a preference."))
    goals(GOALS)


def _idea() -> None:
    limit = step_bound_limit()
    beta1, beta2 = default_betas()
    math_block(
        r"\alpha = \sigma(s),\qquad \frac{\partial L}{\partial s} = \alpha\,(1 - \alpha)\,\frac{\partial L}{\partial \alpha},"
        r"\qquad s \leftarrow s - \eta_t\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}\ \ ("
        + tex_words(_("AdamW step")) + ")",
        r"\Big|\frac{\hat m_t}{\sqrt{\hat v_t}}\Big| \le B_t,\quad B_1 = 1,\quad B_t \uparrow "
        r"\frac{1-\beta_1}{\sqrt{(1-\beta_2)(1-\beta_1^2/\beta_2)}} \approx " + f"{limit:.2f}"
        r",\qquad |\Delta\alpha| \le \tfrac14\,\eta \sum_{t=1}^{T} B_t",
        caption=_("sa_weight s starts at 0 (α = β = ½) and is trained with everything else (AdamW, warm-up then "
                  "cosine decay, label smoothing, shifts and flips; s is not weight-decayed). With the default β₁ = "
                  "{beta1:g}, β₂ = {beta2:g}, B_t = {b1:.2f} at the first step, {b32:.2f} after 32 steps, {b200:.2f} "
                  "after 200 (a steadily growing gradient reaches it); the often-quoted 3·lr, (1 − β₁)/√(1 − β₂) = "
                  "{isolated:.2f}, is one isolated gradient. With dα/ds ≤ ¼, T steps at learning rate ≤ η move α "
                  "by at most ¼ η Σ B_t.").format(beta1=beta1, beta2=beta2, b1=step_bound(1), b32=step_bound(32),
                                                  b200=step_bound(200), isolated=(1 - beta1) / math.sqrt(1 - beta2)),
    )
    s_values = torch.linspace(-6, 6, 121)
    alpha_values = torch.sigmoid(s_values)
    show_figure(figures.lines(
        [("α = σ(s)", s_values.tolist(), alpha_values.tolist()),
         ("dα/ds = α(1 − α)", s_values.tolist(), (alpha_values * (1 - alpha_values)).tolist())],
        _("Blend α and its sensitivity dα/ds vs sa_weight s"), "sa_weight s", _("value"), markers=False,
        height=320), key="train_fig_sigmoid")


def _bundled_card():
    card = bundled_cards().get(BUNDLED_RUN)
    return card if card is not None and card.history and card.final_blend else None


def _time_lapse(card) -> None:
    """The bundled run's blend after each epoch, replayed up to a chosen epoch: what a long run does to α."""
    epochs = [0] + [int(entry["epoch"]) for entry in card.history]
    shown = st.select_slider(_("replay up to epoch"), epochs, value=epochs[-1], key="train_replay")
    upto = epochs.index(shown) + 1
    series = [(f"{block}: α", epochs[:upto], ([0.5] + [float(e["blend"][block][0]) for e in card.history])[:upto])
              for block in sorted(card.final_blend)]
    show_figure(figures.lines(series, _("{name}: α after each epoch (epoch 0 = initialisation)").format(
        name=BUNDLED_RUN), _("epoch"), "α", y_range=(0, 1), height=300), key="train_fig_replay")
    images = (card.training or {}).get("train_subset") or _("all")
    st.caption(_("From the card: trained for {epochs} (data: {dataset}); training subset: {images}. Every point is "
                 "read from card.history, not measured here.").format(
                     epochs=_epochs_text(card.epochs), dataset=describe_dataset(card), images=images))


def _start_check(mixing: str):
    blend = blend_parameters(ZooContainer(TrainSettings(mixing=mixing).model_config()))
    if not blend:
        return check_true(_("{mixing} has no blend parameter to learn").format(mixing=mixing), not blend,
                          _("blend_parameters is empty"))
    return check_close(_("an untrained {mixing} starts at α = β = 0.5 in every block").format(mixing=mixing),
                       [v for pair in blend.values() for v in pair], [0.5] * (2 * len(blend)))


def _predict_and_reveal() -> None:
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    card = _bundled_card()
    checks = [_start_check("container_light")]
    if card is None:
        st.info(_("The bundled {name} run is not here, so its history cannot settle the prediction; train your own "
                  "in the next step.").format(name=BUNDLED_RUN))
        verify_panel(checks, _("an untrained Container-Light starts from α = β = 0.5"), lesson=KEY)
        return
    _time_lapse(card)
    block = sorted(card.final_blend)[0]
    share = first_epoch_share(card, block)
    first, final = float(card.history[0]["blend"][block][0]), float(card.final_blend[block][0])
    if share is not None:
        st.caption(_("After epoch 1, {block}'s α was {first:.3f}: {share:.0%} of its whole move from 0.5 to "
                     "{final:.3f}. Epoch 1 is the warm-up, where the learning rate climbs from near 0 to its "
                     "peak.").format(block=block, first=first, share=share, final=final))
        checks.insert(0, check_prediction(choice, FIRST_EPOCH_SHARES[0 if share < 0.5 else 1]))
    checks.append(check_close(_("{name}: card's final_blend = its last history entry").format(name=BUNDLED_RUN),
                              [card.final_blend[b] for b in sorted(card.final_blend)],
                              [card.history[-1]["blend"][b] for b in sorted(card.final_blend)]))
    verify_panel(checks, _("the bundled run's α moved as its card's history says, from 0.5 at initialisation"),
                 lesson=KEY)


def _verify_summary(job: TrainingJob | None, blend_plotted: bool) -> str:
    """What the Verify panel claims: 'you watched' only for a blend this session's own run plotted."""
    if blend_plotted:
        return _("the blend you watched is the trained model's own blend, starting from 0.5")
    if job is not None and job.collected and job.result is not None:
        return _("your {mixing} run is stored with its history and settings (it has no blend to watch), and an "
                 "untrained Container starts from α = β = 0.5").format(mixing=job.settings.mixing)
    why = {"failed": _("your run failed, so nothing was trained"),
           "cancelled": _("your run was cancelled before it started, so nothing was trained")}.get(
        job.status if job is not None and job.finished else "", _("no run has finished in this session yet"))
    return _("an untrained model starts from α = β = 0.5 ({why}: press Start to train and check the run)").format(
        why=why)


def _settings_panel(running: bool) -> TrainSettings:
    source = data_source()
    subsets = _subsets(source)
    if st.session_state.get("train_subset") not in subsets:
        st.session_state["train_subset"] = min(DEFAULT_SUBSET, subsets[-1])
    st.caption(_("Training images come from {source}.").format(source=source_label(source)))
    c1, c2, c3, c4, c5 = st.columns([1.2, 1.2, 1, 0.8, 1.3])
    c1.selectbox(_("mixing of the 7 × 7 stage"), MIXINGS, index=MIXINGS.index("container_light"), key="train_mixing",
                 disabled=running)
    c2.select_slider(_("training images"), subsets, key="train_subset", disabled=running)
    c3.slider(_("epochs"), 1, 5, 2, key="train_epochs", disabled=running)
    c4.number_input(_("seed"), 0, 9999, 0, key="train_seed", disabled=running)
    name, settings = _settings_from_widgets()
    c5.text_input(_("name of the result"), placeholder=name, key="train_name", disabled=running)
    steps = math.ceil(settings.train_subset / settings.batch_size) * settings.epochs
    reach = alpha_ceiling(steps, settings.lr)
    numbers = dict(images=settings.train_subset, epochs=_epochs_text(settings.epochs), batch=settings.batch_size,
                   steps=steps, lr=settings.lr, reach=reach, idea_step=_step_number("idea"),
                   predict_step=_step_number("predict"))
    if reach < VISIBLE_MOVE:
        st.info(_("**A short run: its α line will look flat.** {images:,} images × {epochs} at batch {batch} = "
                  "{steps} steps at learning rate ≤ {lr:g}: by the AdamW bound (step {idea_step}) it can move α by "
                  "at most about {reach:.3f}, less than the {visible} that {trained_lesson} calls a clear lean; the "
                  "time-lapse of step {predict_step} is the long run.").format(
                      visible=VISIBLE_MOVE, trained_lesson=lesson_ref("trained"), **numbers),
                icon=":material/schedule:")
    else:
        st.caption(_("{images:,} images × {epochs} at batch {batch} = {steps} steps at learning rate ≤ {lr:g}: by the "
                     "AdamW bound (step {idea_step}) this run can move α by at most about {reach:.3f} (a ceiling, not a "
                     "forecast: the gradient rarely pushes the same way at every step).").format(**numbers))
    return settings


def _run() -> None:
    if session_store().lesson(KEY).prediction is None:
        st.info(_("Make your prediction first (step {number}): how α moves is what you predict before you watch "
                  "it move.").format(number=_step_number("predict")), icon=":material/lock:")
        st.button(_("← To the prediction"), key="train_to_prediction", on_click=go_to_step, args=(KEY, "predict"))
        return
    job: TrainingJob | None = st.session_state.get(JOB_KEY)
    _collect(job)
    running = job is not None and not job.finished
    settings = _settings_panel(running)
    b1, b2, _spacer = st.columns([1, 1, 3])
    b1.button(_("▶ Start training"), key="train_start", on_click=_start, disabled=running, type="primary",
              width="stretch")
    b2.button(_("■ Stop"), key="train_stop", on_click=_stop, disabled=not running or job.stop_requested, width="stretch")
    if st.session_state.get("train_busy") == "own":
        st.warning(_("Your earlier run is still waiting or training: a session trains one run at a time. Stop it, "
                     "or wait for it to finish."))
    elif st.session_state.get("train_busy"):
        st.warning(_("The training queue of this server is full ({count} runs are waiting); try again in a few "
                     "minutes.").format(count=MAX_WAITING_RUNS))
    st.fragment(_progress_view, run_every=POLL_SECONDS if running else None)()

    trained = st.session_state.get(TRAINED_MODELS_KEY, {})
    if job is not None and job.collected and job.result is not None:
        result = job.result
        history = pd.DataFrame([
            {_("epoch"): log.epoch, _("train loss"): round(log.train_loss, 4),
             _("train accuracy %"): round(log.train_accuracy, 2), _("val accuracy %"): round(log.val_accuracy, 2),
             _("blend (α, β)"): "; ".join(f"{b}: {v[0]:.3f}, {v[1]:.3f}" for b, v in log.blend.items()) or "—",
             _("seconds"): round(log.seconds, 1)}
            for log in result.history
        ])
        with st.expander(_("The run's log, epoch by epoch")):
            st.dataframe(history, hide_index=True, width="stretch")
        place = f"{TRAINED_MODELS_KEY}['{job.name}']"
        st.success((_("Run stopped early: {place} holds the model, its history and settings. Pick it on the Inspector "
                      "and Blend pages.") if result.stopped_early else
                    _("Run finished: {place} holds the model, its history and settings. Pick it on the Inspector and "
                      "Blend pages.")).format(place=place))
    if len(trained) > 1:  # one run is named by the message above
        st.caption(_("Your runs in this session: {names}").format(names=", ".join(f"`{name}`" for name in trained)))
    _verify_run(job, settings, trained)


def _verify_run(job: TrainingJob | None, settings: TrainSettings, trained: dict) -> None:
    """Training starts at α = β = 0.5, a finished run's blend is the one in its weights, and α moved no farther
    than the AdamW bound allows for the steps the run took."""
    checks = [_start_check(settings.mixing)]
    blend_plotted = False
    if job is not None and job.collected and job.result is not None:
        snap = job.snapshot()
        model_blend = blend_parameters(job.result.model)
        blend_plotted = bool(model_blend and snap.blends)
        entry = trained.get(job.name, {})
        checks.append(check_true(_("trained_models entry holds model, history and settings"),
                                 set(entry) >= {"model", "history", "settings"}, ", ".join(sorted(entry))))
        if blend_plotted:
            blocks = sorted(model_blend)
            checks.append(check_abs(_("the stored model's blend = the last α plotted live"),
                                    [model_blend[b] for b in blocks], [snap.blends[-1][b] for b in blocks], 6e-6,
                                    _("≤ 6e-06 absolute (logged to 5 decimals)")))
        data = try_test_batch()
        if job.settings.mixing == "container_light" and model_blend and data is not None:
            first = sorted(model_blend)[0]
            trained_model = job.result.model.eval()
            sigma = torch.sigmoid(trained_model.get_submodule(first).mix.sa_weight.detach()).double()
            measured = alpha_from_behaviour(trained_model, first, data[0][:16])
            checks.append(check_close(_("{block}: α measured from the trained block's outputs = sigmoid(sa_weight)")
                                      .format(block=first), [measured], sigma.reshape(1)))
            steps = len(snap.steps)
            ceiling = alpha_ceiling(steps, job.settings.lr)
            move = abs(float(model_blend[first][0]) - 0.5)
            checks.append(check_true(
                _("{block}: α moved {move:.4f} from 0.5, within the AdamW bound for {steps} steps").format(
                    block=first, move=move, steps=steps),
                move <= ceiling, _("≤ {ceiling:.4f}").format(ceiling=ceiling)))
    verify_panel(checks, _verify_summary(job, blend_plotted))


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("run", N_("Train it live"), _run),
    Step("check", N_("Check your understanding"), _check),
)
KEPT = ("train_mixing", "train_subset", "train_epochs", "train_seed", "train_name", PREDICTION.key)


def _step_number(step_id: str) -> int:
    return [step.id for step in STEPS].index(step_id) + 1


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
