"""The documentation site: ``mkdocs build --strict`` passes, the CLI reference is generated
from the parsers, and built pages render in a real headless browser without console errors.

The build needs the ``[docs]`` extra (CI installs it); the browser check needs Chromium and
its driver (Debian's ``chromium`` and ``chromium-driver``, installed by ``.ci/run``) and
Selenium (``[docs]``). Each is skipped with its reason where it is missing.

Top level, not beside one module (cross-cutting): the site documents the whole package.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import importlib.util
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from altmarl.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")


def _hook():
    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "docs" / "_hooks" / "cli_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def test_cli_reference_has_every_command_and_option():
    hook = _hook()
    parser = build_parser()
    text = hook.render(parser)
    found = list(hook.commands(parser))
    paths = {path for path, _, _ in found}
    # every top-level command and every study of `reproduce`
    assert {("simulate",), ("train",), ("certify",), ("animate",)} <= paths
    assert {("reproduce", s) for s in ("warehouse", "federated", "grid", "continuous")} <= paths
    for path, sub, _ in found:
        assert f"altmarl {' '.join(path)}\n" in text
        for option in _options(sub):
            assert option in text, (path, option)
    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    assert hook.on_page_markdown(page, None, None, None) != page  # the marker is there


@pytest.fixture(scope="module")
def site(tmp_path_factory, subprocess_env) -> Path:
    """The site built once with ``mkdocs build --strict`` (warnings fail the build)."""
    missing = [m for m in ("mkdocs", "material", "mkdocstrings") if not importlib.util.find_spec(m)]
    if missing:
        pytest.skip(f"needs the [docs] extra ({', '.join(missing)} not installed)")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**subprocess_env, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-3000:]}"
    return out


@pytest.mark.slow
def test_strict_build_has_every_page(site):
    for page in ("index.html", "quickstart/index.html", "changelog/index.html"):
        assert (site / page).is_file(), page
    api = (site / "reference" / "api" / "game" / "index.html").read_text()
    assert "TabularGame" in api and "from_arrays" in api  # rendered from the docstrings
    cli = (site / "reference" / "cli" / "index.html").read_text()
    for option in _options(build_parser()._actions[-1].choices["animate"]):  # type: ignore[attr-defined]
        assert option in cli
    changelog = (site / "changelog" / "index.html").read_text()
    assert "0.2.0" in changelog  # the changelog is included, not copied
    for name in ("warehouse", "federated", "grid"):  # one GIF per scenario is embedded
        page = (site / "scenarios" / name / "index.html").read_text()
        assert f"{name}_episode.gif" in page
        assert (site / "assets" / f"{name}_episode.gif").is_file()


# ---------------------------------------------------------------------------------------
# the headless browser


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs Chromium and chromedriver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs the [docs] extra")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def serve():
    """Serve a directory over HTTP on the loopback interface; yields ``base_url(dir)``."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def console_errors(driver, url: str) -> list[str]:
    """Load ``url``, wait until it has loaded, and return its console errors (uncaught
    exceptions, ``console.error``, resources that failed to load)."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    driver.execute_script(
        "return new Promise(r => document.readyState === 'complete' ? r() :"
        " window.addEventListener('load', () => r()))"
    )
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.slow
def test_the_console_check_catches_errors(browser, serve, tmp_path):
    """The check below can fail: a page with a script error and a missing image is caught."""
    (tmp_path / "bad.html").write_text(
        "<html><body><img src='missing.png'>"
        "<script>console.error('boom'); undefinedFunction();</script></body></html>"
    )
    (tmp_path / "good.html").write_text("<html><body><p>fine</p></body></html>")
    base = serve(tmp_path)
    errors = console_errors(browser, base + "bad.html")
    deadline = time.monotonic() + 10
    while len(errors) < 3 and time.monotonic() < deadline:  # a loaded machine logs late
        time.sleep(0.2)
        errors += [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert any("boom" in e for e in errors)
    assert any("undefinedFunction" in e for e in errors)
    assert any("missing.png" in e for e in errors)
    assert console_errors(browser, base + "good.html") == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "page, text",
    [("", "altmarl"), ("reference/api/game/", "TabularGame"), ("scenarios/grid/", "generators")],
    ids=["home", "api", "scenario"],
)
def test_pages_render_without_console_errors(browser, serve, site, page, text):
    base = serve(site)
    assert console_errors(browser, base + page) == []
    body = browser.find_element("tag name", "body").text
    assert text in body
    assert "altmarl" in browser.title
    # the theme's stylesheet applied: the header is laid out, not raw HTML
    header = browser.find_element("css selector", "header.md-header")
    assert header.size["height"] > 0
