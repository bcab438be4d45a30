"""The vendored chart library (portal/static/vendor/chartjs/): the npm build as published, with
its licence, served by Sillon itself (no CDN) to the pages that draw charts, and only those."""
import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "portal" / "static" / "vendor" / "chartjs"
CHART_JS_SHA256 = "338399fb5bafe598d21cfc471b0590b61ceb321a985fade4f68499b151f67fbf"


def test_chart_js_is_the_published_build_with_its_licence():
    source = (VENDOR / "chart.umd.js").read_bytes()
    assert hashlib.sha256(source).hexdigest() == CHART_JS_SHA256
    assert source.startswith(b"/*!\n * Chart.js v4.6.1")
    assert CHART_JS_SHA256 in (VENDOR / "README.md").read_text(encoding="utf-8")
    licence = (VENDOR / "LICENSE.md").read_text(encoding="utf-8")
    assert "The MIT License" in licence and "Chart.js Contributors" in licence


def test_dashboard_loads_the_charts_from_sillon_only(login):
    client = login("admin@sillon.demo")
    page = client.get("/admin/").get_data(as_text=True)
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert "/static/vendor/chartjs/chart.umd.js" in scripts
    assert scripts.index("/static/vendor/chartjs/chart.umd.js") < \
        scripts.index("/static/js/charts.js")
    assert all(src.startswith("/") and not src.startswith("//") for src in scripts)
    for src in ("/static/vendor/chartjs/chart.umd.js", "/static/js/charts.js"):
        response = client.get(src)
        assert response.status_code == 200 and "javascript" in response.content_type
    # Nothing is drawn on an apprentice's page: no chart library to load.
    alice = login("alice@etu.sillon.demo").get("/admin/").get_data(as_text=True)
    assert "chart.umd.js" not in alice and "<canvas" not in alice
