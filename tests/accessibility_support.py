"""What the accessibility browser tests share: the views of the app, waiting until one has settled, and axe-core.

axe-core comes bundled in the ``axe-playwright-python`` package (no network); a view is audited only once the app
has finished its run, no skeleton is left and the fonts have loaded, so that axe reads what a learner sees.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

from browser_support import ACTION_TIMEOUT_S

#: Impacts that fail the audit (WCAG 2.2 AA, issue 23); "moderate" and "minor" ones are allowed only if listed.
FAILING_IMPACTS = ("critical", "serious")
LANGUAGES = ("en", "zh")
SETTLED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app && app.dataset.testScriptState === 'notRunning'
        && !document.querySelector('[data-testid="stSkeleton"]')
        && !!document.querySelector('[data-testid="stMain"] h1');
}"""


@dataclass(frozen=True)
class View:
    """One screen of the app: a name for the report and its address (path and query, without the server)."""

    name: str
    address: str
    tab: str | None = None  # an Analysis tab to open (its label in the view's language), if any


def with_language(address: str, language: str) -> str:
    if language == "en":
        return address
    return address + ("&" if "?" in address else "?") + f"lang={language}"


def page_views(language: str) -> list[View]:
    from app.navigation import PAGE_SPECS

    return [View(f"{language}:{spec.url_path}", with_language(spec.url_path, language)) for spec in PAGE_SPECS]


def lesson_views(language: str) -> list[View]:
    """Every step of every lesson, as the lessons are when the test runs (``?lesson=<key>&step=<n>``)."""
    from app.lessons import LESSONS
    from app.lessons.parts.steps import lesson_steps

    return [View(f"{language}:lesson {lesson.KEY} step {number} ({step.id})",
                 with_language(f"Lessons?lesson={lesson.KEY}&step={number}", language))
            for lesson in LESSONS for number, step in enumerate(lesson_steps(lesson), start=1)]


def analysis_tab_views(language: str) -> list[View]:
    from app import i18n

    tabs = analysis_tabs()
    shown = [i18n.translations(language).gettext(tab) for tab in tabs]
    return [View(f"{language}:Analysis tab {tab}", with_language("Analysis", language), tab=label)
            for tab, label in zip(tabs, shown)]


def analysis_tabs() -> list[str]:
    """The Analysis page's tab labels (English), read from the page script without running it."""
    import ast

    from browser_support import REPO_ROOT

    tree = ast.parse((REPO_ROOT / "pages" / "7_Analysis.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TABS" for t in node.targets):
            return [call.args[0].value for call in node.value.elts]
    raise AssertionError("pages/7_Analysis.py no longer defines TABS")


def wait_until_settled(page) -> None:
    """Wait until the run has finished and nothing is left to draw, twice in a row (a run may start another)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        for _ in range(2):
            page.wait_for_function(SETTLED, timeout=ACTION_TIMEOUT_S * 1000, polling=200)
            page.wait_for_timeout(300)  # a rerun that a widget callback starts shows up within a frame or two
        page.evaluate("() => document.fonts.ready.then(() => true)")
    except PlaywrightTimeout as error:
        raise AssertionError(f"{page.url}: the page did not settle within {ACTION_TIMEOUT_S} s") from error


def open_view(page, base_url: str, view: View) -> None:
    page.goto(f"{base_url}/{view.address}")
    wait_until_settled(page)
    if view.tab is not None:
        page.get_by_role("tab", name=view.tab).click()
        page.get_by_role("tab", name=view.tab, selected=True).wait_for()
        wait_until_settled(page)


@dataclass
class AuditReport:
    """Violations over all views: by impact and rule, with the views each rule was seen on."""

    nodes_by_impact: Counter = field(default_factory=Counter)
    nodes_by_rule: Counter = field(default_factory=Counter)
    impact_of_rule: dict = field(default_factory=dict)
    views_of_rule: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)
    views: int = 0

    def add(self, view: View, violations: list[dict]) -> None:
        self.views += 1
        for violation in violations:
            rule, impact, nodes = violation["id"], violation["impact"] or "minor", violation["nodes"]
            self.nodes_by_impact[impact] += len(nodes)
            self.nodes_by_rule[rule] += len(nodes)
            self.impact_of_rule[rule] = impact
            self.views_of_rule.setdefault(rule, []).append(view.name)
            self.examples.setdefault(rule, [(node["target"], node["html"][:200], node.get("failureSummary", ""))
                                            for node in nodes[:3]])

    def summary(self) -> str:
        lines = [f"axe-core over {self.views} views: "
                 + ", ".join(f"{impact} {self.nodes_by_impact[impact]}"
                             for impact in ("critical", "serious", "moderate", "minor")) + " (nodes)"]
        for rule, count in self.nodes_by_rule.most_common():
            views = self.views_of_rule[rule]
            lines.append(f"  {rule} ({self.impact_of_rule[rule]}): {count} nodes on {len(views)} views, e.g. "
                         f"{views[:3]}")
        return "\n".join(lines)

    def rules_with_impact(self, impacts) -> set[str]:
        return {rule for rule, impact in self.impact_of_rule.items() if impact in impacts}


def axe():
    module = pytest.importorskip("axe_playwright_python.sync_playwright",
                                 reason="axe-playwright-python is not installed (requirements-dev.txt)")
    return module.Axe()
