"""The rendered book in a real browser: every page of `_build/html` opened in headless Chromium (Debian's
`chromium`, driven by playwright; no browser is downloaded), served from this machine with every request
that would leave it blocked, as for a reader with no internet.

Each page: no JavaScript errors; every image loaded; its math typeset by the MathJax copy in `_static`, no
raw `\\(` or `$$` left; every code cell and output fits its column at 1280 px (long lines wrap); each Markdown
table output rendered as a table; a chapter's Colab button opens that chapter. A full-page screenshot of
each page lands in `_build/screenshots/` for a person to look at.

The book is built first (as `make book` does) unless `_build/html` is newer than every source of the book.
Run `pytest tests/test_browser.py` alone to look at the screenshots after changing a page.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
SOURCES = ["_config.yml", "_toc.yml", "notebooks/*.ipynb", "book/**/*", "images/**/*", "_static/**/*"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTH, HEIGHT = 1280, 900

playwright = pytest.importorskip("playwright.sync_api", reason="no playwright: pip install -e '.[test]'")
if not Path(CHROMIUM).is_file():
    pytest.skip("no Chromium for the browser test: apt-get install chromium", allow_module_level=True)


def config(key: str) -> str:
    """A value of _config.yml's `repository:` or `launch_buttons:` section (flat `key: value` lines)."""
    return re.search(rf"^\s+{key}:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M).group(1)


def _newest(paths) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file() and "__pycache__" not in p.parts), default=0.0)


@pytest.fixture(scope="module")
def book() -> Path:
    """_build/html, built now (all of it: Sphinx alone would not copy a changed _static file) if any source
    of the book is newer than it."""
    sources = _newest(p for pattern in SOURCES for p in ROOT.glob(pattern))
    if _newest(HTML.rglob("*.html")) <= sources:
        build = subprocess.run([str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "--all",
                                "--warningiserror", "--keep-going", "--builder", "html"],
                               capture_output=True, text=True, timeout=900)
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return HTML


def _pages(book: Path) -> list[str]:
    return sorted(p.relative_to(book).as_posix() for p in book.rglob("*.html")
                  if not p.relative_to(book).parts[0].startswith("_"))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(book):
    """The book over http on 127.0.0.1 (MathJax's fonts do not load from file:// pages)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(book)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


# Run in the page: what the assertions look at.
PROBE = """() => {
  const text = el => el.innerText.trim().split('\\n')[0].slice(0, 80);
  const article = document.querySelector('article') || document.body;
  const prose = article.cloneNode(true);
  prose.querySelectorAll('pre, code, script, .cell_output').forEach(e => e.remove());
  return {
    brokenImages: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
    math: document.querySelectorAll('.math').length,
    untypeset: [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).map(text),
    rawMathInProse: (prose.textContent.match(/\\\\\\(|\\$\\$/g) || []).length,
    clipped: [...article.querySelectorAll('pre, .cell_output, .cell_output > div, .pst-scrollable-table-container')]
      .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => `${e.tagName.toLowerCase()}: ${text(e)}`),
    outputTables: article.querySelectorAll('div.cell_output table').length,
    rawTables: (article.innerText.match(/^\\|.*\\|\\s*$/mg) || []).length,
    colab: [...document.querySelectorAll('a[href*="colab.research.google.com"]')].map(a => a.href),
  };
}"""


def markdown_tables(notebook: Path) -> int:
    """How many of the notebook's stored Markdown outputs are tables."""
    outputs = [o for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"
               for o in c.get("outputs", [])]
    return sum(bool(re.search(r"^\|[ :|-]+\|$", o.get("data", {}).get("text/markdown", ""), re.M))
               for o in outputs)


@pytest.fixture(scope="module")
def visits(book, server, browser) -> dict[str, dict]:
    """Every page, opened once: what PROBE saw, the console's errors and the requests that were blocked."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    host = urlparse(server).netloc
    seen = {}
    for page_path in _pages(book):
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        blocked, errors = [], []
        context.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).netloc == host
                      else (blocked.append(route.request.url), route.abort()))
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server}/{page_path}", wait_until="load")
        refresh = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', (book / page_path).read_text())
        if refresh:  # index.html: on to the first page
            page.wait_for_url(f"{server}/{refresh.group(1)}", wait_until="load")
        if page.evaluate("() => !!(window.MathJax && MathJax.startup)"):
            page.evaluate("() => MathJax.startup.promise")
        page.evaluate("() => document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
        page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=20_000)
        page.screenshot(path=str(SCREENSHOTS / (page_path.replace("/", "_").removesuffix(".html") + ".png")),
                        full_page=True)
        seen[page_path] = {**page.evaluate(PROBE), "errors": errors, "blocked": blocked,
                           "url": page.url.removeprefix(server + "/")}
        context.close()
    return seen


def test_every_page_is_opened_and_photographed(visits):
    chapters = sorted(f"notebooks/{p.stem}.html" for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert set(chapters) <= set(visits) and visits["index.html"]["url"] == "book/intro.html"
    assert sorted(p.name for p in SCREENSHOTS.glob("*.png")) == sorted(
        p.replace("/", "_").removesuffix(".html") + ".png" for p in visits)


def test_no_javascript_errors_and_nothing_from_the_internet(visits):
    assert {p: v["errors"] for p, v in visits.items() if v["errors"]} == {}
    assert {p: v["blocked"] for p, v in visits.items() if v["blocked"]} == {}


def test_every_image_loads(visits):
    assert {p: v["brokenImages"] for p, v in visits.items() if v["brokenImages"]} == {}


def test_math_is_typeset_offline(visits):
    assert visits["book/notation.html"]["math"] > 0 and visits["notebooks/01_why_depth_is_hard.html"]["math"] > 0
    assert {p: v["untypeset"] for p, v in visits.items() if v["untypeset"]} == {}
    assert {p: v["rawMathInProse"] for p, v in visits.items() if v["rawMathInProse"]} == {}


def test_code_and_outputs_fit_their_column(visits):
    assert {p: v["clipped"] for p, v in visits.items() if v["clipped"]} == {}


def test_markdown_outputs_render_as_tables(visits):
    expected = {f"notebooks/{nb.stem}.html": markdown_tables(nb) for nb in (ROOT / "notebooks").glob("*.ipynb")}
    assert sum(expected.values()) > 0
    assert {p: visits[p]["outputTables"] for p in expected} == expected
    assert {p: v["rawTables"] for p, v in visits.items() if v["rawTables"]} == {}


def test_each_chapter_launches_its_own_notebook_in_colab(visits):
    owner_repo = config("url").removeprefix("https://github.com/")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert set(visits[f"notebooks/{nb.stem}.html"]["colab"]) == {
            f"{config('colab_url')}/github/{owner_repo}/blob/{config('branch')}/notebooks/{nb.name}"}
