"""Model zoo: the bundled models' cards side by side, their training curves, and models trained in this session."""

import streamlit as st

from app import caching
from app.figure_view import show_figure
from app.i18n import _
from app.lessons.parts.course import lesson_ref
from app.page import PageContext, run_page
from app.registry import weights_dir
from app.zoo import MIXED_STAGE, add_beta_lines, shown_rows, stage_label, sweep_accuracy_figure, sweep_blend_figure
from container_edu.training.zoo_report import (card_row, free_beta, is_sweep_model, normalise_history, session_row,
                                               sweep_runs)
from container_edu import figures
from container_edu.hub.cards import describe_dataset

def _shown(path) -> str:
    """The folder relative to the working directory when it is inside it (shorter, and no server layout leaks)."""
    from pathlib import Path

    from app import deployment

    if deployment.shared_mode():
        return _("the server's weights folder")

    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


TRAIN_COMMAND = "python -m container_edu train --variant container_light --out container_edu/weights"


def body(ctx: PageContext) -> None:
    cards = caching.bundled_cards()
    st.header(_("Bundled models (Fashion-MNIST)"))
    if not cards:
        st.info(
            _("No bundled weights were found in `{folder}` yet. Until they are there, the other pages use each model "
              "**untrained (random weights)**. Train one with\n\n`{command}`\n\n(one variant of `attention`, "
              "`conv`, `mixer` (a multi-head MLP), `container`, `container_light`); this page picks the new cards up "
              "by itself.").format(folder=_shown(weights_dir()), command=TRAIN_COMMAND),
            icon=":material/hourglass_top:",
        )
    else:
        rows = [_with_stage(card_row(card), card.variant) for card in cards.values()]
        st.dataframe(shown_rows(rows), hide_index=True, key="zoo_table", column_config={
            _("test accuracy (%)"): st.column_config.NumberColumn(format="%.2f"),
            _("val accuracy (%)"): st.column_config.NumberColumn(format="%.2f"),
            _("parameters"): st.column_config.NumberColumn(format="%d"),
        })
        # The sweep's small-data models have hundreds of short epochs; they are compared below, against size.
        histories = {name: normalise_history(card.history) for name, card in cards.items()
                     if not is_sweep_model(card)}
        col_acc, col_blend = st.columns(2)
        accuracy_title = _("Accuracy per epoch: test (solid) and validation (dotted)")
        with col_acc:
            show_figure(figures.history_accuracy(histories, accuracy_title), "zoo_accuracy")
        blended = {n: h for n, h in histories.items() if any(e.get("blend") for e in h)}
        with_beta = [name for name in blended if free_beta(cards[name].variant)]
        if with_beta:
            blend_title = _("Learned blend of each mixed block per epoch: α (weight of A(X)), and β (dotted) where "
                            "it is learned apart from α")
        else:
            blend_title = _("Learned blend of each mixed block per epoch: α (weight of A(X))")
        with col_blend:
            show_figure(add_beta_lines(figures.history_blend(blended, blend_title), blended, with_beta), "zoo_blend")
        st.caption(_("All variants share one recipe (AdamW, warm-up + cosine, label smoothing, shifts and flips) "
                     "and differ only in how the mixed stage's affinity A is made; the test split is only measured."))
        for name, card in cards.items():
            with st.expander(_("Model card: {name}").format(name=name)):
                pre = card.preprocessing
                dataset = describe_dataset(card)
                st.markdown(_("**Dataset:** {dataset}  \n**Command:** `{command}`  \n**Input:** {channels} × {size} × "
                              "{size}, mean {mean}, std {std}  \n**Machine:** {machine}  \n**sha256:** `{sha256}`")
                            .format(dataset=dataset, command=card.source, channels=pre.in_chans,
                                    size=pre.input_size, mean=pre.mean, std=pre.std, machine=card.machine or "—",
                                    sha256=card.sha256))
                # The card as recorded (field names are the file's own); only its dataset sentence is translated.
                record = {k: v for k, v in card.to_dict().items() if k not in ("history", "class_names")}
                record["dataset"] = dataset
                st.json(record, expanded=False)

    _sweep_section()

    st.header(_("Trained in this session"))
    trained = st.session_state.get(caching.TRAINED_MODELS_KEY) or {}
    if not trained:
        st.caption(_("Models you train on the Lessons page appear here, and in the model picker of the Image "
                     "inspector and Blend pages."))
        return
    st.dataframe(shown_rows([session_row(name, entry) for name, entry in trained.items()]), hide_index=True,
                 key="zoo_session")
    histories = {name: normalise_history(entry.get("history", [])) for name, entry in trained.items()}
    histories = {name: history for name, history in histories.items() if history}
    if histories:
        col_acc, col_blend = st.columns(2)
        session_title = _("Session models: accuracy per epoch")
        with col_acc:
            show_figure(figures.history_accuracy(histories, session_title), "zoo_session_accuracy")
        with_blend = {n: h for n, h in histories.items() if any(e.get("blend") for e in h)}
        if with_blend:
            with_beta = [name for name in with_blend if free_beta(_session_variant(trained[name]))]
            session_blend = (_("Session models: blend α per epoch, β dotted") if with_beta
                             else _("Session models: blend α per epoch"))
            with col_blend:
                show_figure(add_beta_lines(figures.history_blend(with_blend, session_blend), with_blend, with_beta),
                            "zoo_session_blend")


def _with_stage(row: dict, variant: str) -> dict:
    """The table row with what the mixed stage is, right after the variant's name."""
    out = {}
    for column, value in row.items():
        out[column] = value
        if column == "variant":
            out[MIXED_STAGE] = stage_label(variant)
    return out


def _session_variant(entry) -> str | None:
    settings = entry.get("settings", {})
    return settings.get("mixing") if isinstance(settings, dict) else getattr(settings, "mixing", None)


def _sweep_section() -> None:
    from container_edu.training.sweep_report import report_markdown, summary

    st.header(_("Does a static affinity pay off when data is scarce? (data-size sweep)"))
    runs = sweep_runs()
    if not runs:
        st.info(_("No sweep results yet. `python -m container_edu sweep run` trains them (hours on 2 CPU cores, "
                  "resumable); this page reads them from the package's results file."),
                icon=":material/hourglass_top:")
        return
    col_acc, col_blend = st.columns(2)
    with col_acc:
        show_figure(sweep_accuracy_figure(
            runs, _("Test accuracy against training-set size (mean ± std over seeds)")), "sweep_accuracy")
    with col_blend:
        show_figure(sweep_blend_figure(
            runs, _("Learned blend against training-set size: α (dynamic) and β (static)")), "sweep_blend")
    st.markdown(report_markdown())
    st.caption(_("Each variant trains on the same class-balanced subset for a given size and seed, with one recipe; "
                 "the number of steps per size was chosen on validation images only. One dataset, small models, "
                 "28 × 28 inputs: this says nothing about ImageNet-scale Containers."))
    if any(cell["n"] < 3 for cell in summary(runs).values()):
        st.caption(_("Cells with fewer than three seeds are still being trained in later sessions."))


run_page(_("Model zoo"), body,
         intro=_("Five small Containers trained on Fashion-MNIST with the same recipe; only the affinity of their "
                 "mixed stage differs: attention, conv, multi-head MLP (zoo variant `mixer`: one learned N×N matrix "
                 "per head, where {mixer_lesson}'s MLP-Mixer shares one), Container, Container-Light.").format(
             mixer_lesson=lesson_ref("mixer")))
