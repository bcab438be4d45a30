"""axe-core (Deque's accessibility engine) in a Playwright page.

The engine is the npm package's built file, vendored in tests/assets/axe-core/ (version and
provenance in its README.md), so the browser tests run offline.

Injection under Sillon's Content-Security-Policy (`script-src 'self'`, portal/security_headers.py):
`page.add_script_tag(content=…)` or `(path=…)` writes an inline <script> element, which the
policy refuses. The source is instead handed to `page.evaluate`, i.e. CDP's Runtime.evaluate,
which the page's CSP does not govern; axe-core 4 itself needs no eval. The policy stays on, so
the pages are checked as users get them.
"""
from __future__ import annotations

import json
from pathlib import Path

AXE_DIR = Path(__file__).resolve().parent.parent / "assets" / "axe-core"
AXE_SOURCE = AXE_DIR / "axe.min.js"
FAILING_IMPACTS = ("critical", "serious")
# Rules that fail whatever their impact (axe-core rates them "moderate"): the page's landmarks
# (one <main>, every content inside a landmark, landmarks told apart) and a way to skip the menu.
ALWAYS_FAILING = ("landmark-one-main", "region", "landmark-unique", "bypass",
                  "landmark-no-duplicate-main", "landmark-main-is-top-level")
# WCAG 2.x A and AA plus axe's best practices (landmarks, a main heading, …): every rule axe
# runs by default; only the impact decides what fails a test.
RUN_OPTIONS = {"resultTypes": ["violations"]}

_source: str | None = None


def axe_source() -> str:
    global _source
    if _source is None:
        _source = AXE_SOURCE.read_text(encoding="utf-8")
    return _source


def inject(page) -> str:
    """Load axe-core into the page (once per document); returns its version."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate("() => window.axe.version")


def start(page) -> None:
    """Start axe-core on the page as it is now, without waiting: the run goes on in the page's
    renderer while Python drives another page; `results` collects it."""
    inject(page)
    page.evaluate("""options => {
      window.__sillonAxe = null;
      window.axe.run(document, options).then(
        r => { window.__sillonAxe = {violations: r.violations}; },
        e => { window.__sillonAxe = {error: String(e)}; });
    }""", RUN_OPTIONS)


def results(page, impacts=FAILING_IMPACTS, rules=ALWAYS_FAILING,
            timeout_ms: int = 60_000) -> list[dict]:
    """The violations of the run `start` began on the page, of the given impacts or rules, each as
    {id, impact, help, helpUrl, targets: [css selector…], html: [outer html…]}."""
    page.wait_for_function("() => window.__sillonAxe", polling=50, timeout=timeout_ms)
    found = page.evaluate("() => window.__sillonAxe")
    assert "error" not in found, f"axe-core failed on {page.url}: {found['error']}"
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"], "helpUrl": v["helpUrl"],
             "targets": [" ".join(map(str, n["target"])) for n in v["nodes"]],
             "html": [n["html"][:160] for n in v["nodes"]]}
            for v in found["violations"] if v["impact"] in impacts or v["id"] in rules]


def violations(page, impacts=FAILING_IMPACTS, rules=ALWAYS_FAILING) -> list[dict]:
    """axe-core's violations of the given impacts or rules on the page as it is now."""
    start(page)
    return results(page, impacts, rules)


def describe(where: str, found: list[dict]) -> str:
    """A readable report: the page, then each violation's id, impact, help and targets."""
    lines = [where]
    for v in found:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for target, html in zip(v["targets"][:8], v["html"][:8]):
            lines.append(f"      {target}    {html}")
        if len(v["targets"]) > 8:
            lines.append(f"      … {len(v['targets']) - 8} more")
    return "\n".join(lines)


def as_json(found: list[dict]) -> str:
    return json.dumps(found, ensure_ascii=False, indent=1)
