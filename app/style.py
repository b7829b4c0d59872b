"""The app's few style rules on top of Streamlit's theme (.streamlit/config.toml), for WCAG 2.2 AA (issue 23).

The theme sets the colours (text, links, code) and the font stack; what the theme cannot say is here, drawn once
per run by :func:`apply_style` from the frame of every page (``app.page.run_page``). docs/accessibility.md says
which axe-core rule each rule answers; tests/test_accessibility.py checks them in the browser.
"""

from __future__ import annotations

import json

import streamlit as st

from app.i18n import DEFAULT_LANGUAGE, _, current_language
from container_edu.data.images import DEFAULT_MAX_UPLOAD_BYTES

__all__ = ["CSS", "apply_style", "uploader_css"]

# No "<" anywhere in it: Streamlit's HTML sanitiser (DOMPurify) drops a style element whose text holds one before a
# letter (tests/test_accessibility.py checks).
CSS = """
/* A heading for screen readers only (the lesson's step): out of sight, still read, as in WCAG technique C7. */
.ce-sr-only {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0;
}
/* scrollable-region-focusable: a code block that scrolls sideways cannot be reached by keyboard (Streamlit's
   pre element takes no focus), so long commands and paths wrap instead. */
[data-testid="stCode"] pre, [data-testid="stCode"] pre code {
  white-space: pre-wrap !important;
  overflow-wrap: anywhere;
  overflow-x: hidden !important;
}
/* The same for display formulas: KaTeX may break a formula after a relation or an operator, as it does inline,
   rather than scroll a box the keyboard cannot reach (at 200 % zoom most of the lessons' formulas are wider
   than the column). */
.katex-display {
  overflow-x: hidden !important;
}
.katex-display > .katex {
  white-space: normal !important;
  max-width: 100%;
}
/* color-contrast: Streamlit greys a disabled widget's label to 40 % of the text colour (2.5:1); a learner still
   needs to read what the control is, so it keeps the caption's colour (4.5:1 or more with the theme's text
   colour). The control itself stays greyed. */
[data-testid="stWidgetLabel"][disabled] p {
  color: rgba(11, 19, 23, 0.62) !important;
}
/* color-contrast: Streamlit's syntax colours are not themeable and reach 2.2:1 to 3.6:1 on the code background;
   tokens take the code's text colour, keywords and commands a darker blue, strings and constants a dark green. */
[data-testid="stCode"] .token {
  color: inherit !important;
}
[data-testid="stCode"] .token.function, [data-testid="stCode"] .token.keyword,
[data-testid="stCode"] .token.builtin {
  color: #1d5673 !important;
}
[data-testid="stCode"] .token.string, [data-testid="stCode"] .token.constant,
[data-testid="stCode"] .token.number {
  color: #1f5a45 !important;
}
/* color-contrast: a caption is drawn at 60 % opacity, which fades its links and code too (2.9:1); the caption's
   text keeps the same grey as a colour instead, and its links and code their own theme colours. */
[data-testid="stCaptionContainer"] {
  opacity: 1 !important;
  color: rgba(11, 19, 23, 0.62) !important;
}
/* Reflow (1.4.10): at 200 % zoom a metric's value and label were cut to "Ankle …"; they wrap instead. */
[data-testid="stMetricValue"], [data-testid="stMetricValue"] *,
[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * {
  white-space: normal !important;
  overflow: visible !important;
  text-overflow: clip !important;
}
/* Keyboard (2.1.1): Streamlit shows the sidebar's collapse button only while the mouse is over the sidebar, and a
   hidden button cannot take focus; it stays visible. */
[data-testid="stSidebarCollapseButton"] {
  visibility: visible !important;
  display: block !important;
}
/* Focus visible (WCAG 2.4.7, 2.4.11): a clear ring on whatever has keyboard focus, links and tabs included. */
:focus-visible {
  outline: 2px solid #1d5673 !important;
  outline-offset: 2px;
}
/* prefers-reduced-motion (WCAG 2.3.3): no transitions, animations or smooth scrolling for whoever asked for
   none (Streamlit's expanders, tabs and skeletons animate). */
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after {
    animation-duration: 0.01ms !important;
    animation-iteration-count: 1 !important;
    transition-duration: 0.01ms !important;
    scroll-behavior: auto !important;
  }
}
"""


def _css_string(text: str) -> str:
    # A CSS string takes JSON's escapes for quotes and backslashes; "<" is spelled out for the sanitiser (above).
    return json.dumps(text, ensure_ascii=False).replace("<", "\\3c ")


def uploader_css() -> str:
    """Streamlit's file uploader in the session's language: its "Upload" button and its size line.

    Streamlit offers no setting for these two strings (st.file_uploader translates only its label and help), so
    in a language other than English the English text is hidden and the translation drawn in its place as
    generated content, which browsers also give to screen readers as the button's name. The label above each
    uploader already names the formats and the size, translated.
    """
    upload = _css_string(_("Upload"))
    limit = _css_string(_("Up to {size} MB per file").format(size=DEFAULT_MAX_UPLOAD_BYTES // (1024 * 1024)))
    return f"""
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p,
[data-testid="stFileUploaderDropzoneInstructions"] span {{
  visibility: hidden; font-size: 0 !important; line-height: 0;
}}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"]::after {{ content: {upload}; }}
[data-testid="stFileUploaderDropzoneInstructions"] > div::after {{ content: {limit}; }}
"""


def apply_style() -> None:
    """Add the app's style rules to the page (a ``<style>`` element only: it takes no space)."""
    css = CSS if current_language() == DEFAULT_LANGUAGE else CSS + uploader_css()
    st.html(f"<style>{css}</style>")
