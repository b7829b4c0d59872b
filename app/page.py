"""The frame of every page: shared sidebar, title, and no traceback ever shown to a user.

A page is a function of a :class:`PageContext`; ``run_page`` draws the shared
sidebar (with the model picker where the page needs a model), the title and
intro, then runs the body inside :func:`app.errors.friendly_errors`::

    def body(ctx: PageContext) -> None:
        ...

    run_page(_("Blend"), body, intro=_("..."), model_picker=True)

The title and intro come translated (``app.i18n._``): ``run_page`` draws them as given.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st
import torch

from app import deployment
from app.errors import friendly_errors
from app.session_keys import holds_work
from app.i18n import _
from app.navigation import PAGE_ICON, PAGE_TITLE, hand_over_legacy_run
from app.registry import ModelRef
from app.sidebar import render_sidebar
from app.style import apply_style

__all__ = ["PageContext", "run_page", "PAGE_TITLE", "PAGE_ICON"]

# The server answers several sessions at once with small models: a second intra-op thread buys little, and
# on a busy machine OpenMP's waiting threads make each forward pass many times slower (measured with
# tools/app_latency.py, see the README's performance notes). An operator who wants more threads sets
# OMP_NUM_THREADS. Process-wide (torch's setting is), once, when the first page is imported.
if "OMP_NUM_THREADS" not in os.environ:
    torch.set_num_threads(1)


@dataclass(frozen=True)
class PageContext:
    """What the shared frame hands to a page body."""

    model_ref: ModelRef | None


def run_page(title: str, body: Callable[[PageContext], None], *, intro: str | None = None,
             model_picker: bool = False, weights_offer_in_page: bool = False,
             families_left_out: str | None = None) -> None:
    """Draw the shared frame and run ``body``; any exception becomes a friendly ``st.error``.

    ``weights_offer_in_page``: the body draws the ImageNet-weights offer, so the sidebar leaves it out.
    ``families_left_out``: the body cannot show the three ImageNet families (DeiT, ConvNeXt, MLP-Mixer); the picker
    leaves them out and says why in this one sentence (translated).
    """
    if hand_over_legacy_run():  # the page was drawn through the navigation, see app.navigation
        return
    apply_style()
    ref = render_sidebar(with_model_picker=model_picker, weights_offer_in_page=weights_offer_in_page,
                         families_left_out=families_left_out)
    st.title(title)
    if intro:
        st.markdown(intro)
    if model_picker and ref is None:
        st.error(_("No model is available; see the message in the sidebar."))
        return
    with friendly_errors(_("showing the {title} page").format(title=title)):
        body(PageContext(model_ref=ref))
    deployment.keep_session_token(holds_work(st.session_state))
