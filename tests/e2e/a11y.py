"""The automated accessibility audit of the browser tests: axe-core (vendored from npm
under static/vendor, see `make vendor-axe`) run in the page, and keyboard helpers.

axe is evaluated through the DevTools protocol rather than added as a <script>: the
site's Content-Security-Policy forbids inline scripts, and the audit must see the page
exactly as served, CSP included."""

from __future__ import annotations

from functools import cache

from tests.e2e.stack import ROOT

AXE_FILE = ROOT / "static" / "vendor" / "axe-core-4.14.1.min.js"
#: Impacts that fail a page; "minor" and "moderate" findings are reported, not fatal.
FAILING_IMPACTS = ("serious", "critical")


@cache
def _axe_source() -> str:
    return AXE_FILE.read_text()


def axe_violations(page, *, impacts: tuple[str, ...] = FAILING_IMPACTS) -> list[dict]:
    """axe-core's WCAG 2.x A/AA violations on the current page with one of ``impacts``."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    results = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
                resultTypes: ["violations"],
            });
            return r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ") + " :: " + n.failureSummary).slice(0, 5),
            }));
        }"""
    )
    return [v for v in results if v["impact"] in impacts]


def assert_accessible(page, label: str = "") -> None:
    """No serious or critical axe-core violation on the current page."""
    found = axe_violations(page)
    where = label or page.url
    report = "\n".join(
        f"- [{v['impact']}] {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in found
    )
    assert not found, f"accessibility violations on {where}:\n{report}"


def tab_to(page, locator, *, max_presses: int = 120, from_top: bool = True) -> None:
    """Press Tab (from the top of the page, or from the focused element) until
    ``locator`` has the focus: the action is reachable by keyboard alone (fails when it
    never gets the focus)."""
    if from_top:
        page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
        page.evaluate("() => window.scrollTo(0, 0)")
    target = locator.element_handle()
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if page.evaluate("(el) => el === document.activeElement", target):
            return
    name = locator.evaluate("(el) => el.outerHTML.slice(0, 120)")
    raise AssertionError(f"{name} is not reachable with Tab in {max_presses} presses")
