"""The report and the documentation are web pages: open them as a reader would and check what they show.

For every page tested:

* every ``<img>`` source (a file next to the page or an embedded ``data:`` URI) decodes as an image with a
  non-zero size (Pillow);
* every internal link (``href``/``src`` of ``a``, ``img``, ``link``, ``script``) points to a file that exists,
  and a ``#fragment`` into a page of the site names an element id of that page; no script, stylesheet or
  image comes from another host (the pages render offline);
* headless Chromium loads the page inside a small harness page and reports every image's
  ``naturalWidth``: all must be non-zero (the browser decoded them); every formula was typeset by MathJax;
* Chromium takes a screenshot, kept as an artifact in ``$ROAST_ARTIFACT_DIR`` (default ``artifacts/``
  at the repository root, git-ignored) under ``web-pages/``.

Chromium is Debian's ``chromium`` package (``apt-get install -y chromium``; ``.ci/run`` installs it); the
browser checks skip with that hint when it is missing, the file checks still run.

Pages: the ``--quick`` report's ``index.html`` (built here, slow), and the built documentation when
``$ROAST_DOCS_HTML`` (or ``docs/_build/html``) holds it: its index, the API index, the theory guide (formulas)
and every notebook page.
Building the docs here would take minutes, so CI builds them in their own step and then runs this file with
``ROAST_DOCS_HTML`` set.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

PIL = pytest.importorskip("PIL.Image")

ROOT = Path(__file__).resolve().parents[2]
DOCS_HTML = Path(os.environ.get("ROAST_DOCS_HTML", ROOT / "docs" / "_build" / "html"))
ARTIFACTS = Path(os.environ.get("ROAST_ARTIFACT_DIR", ROOT / "artifacts")) / "web-pages"
CHROMIUM_TIMEOUT_S = 120


# --- static checks --------------------------------------------------------------------------------------
class _Page(HTMLParser):
    """Collects image sources, internal references and element ids of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.refs: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "img" and a.get("src") is not None:
            self.images.append(a["src"])
        for key in ("href", "src"):
            if tag in ("a", "img", "link", "script") and a.get(key):
                self.refs.append((tag, a[key]))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _is_internal(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.startswith(("//", "mailto:", "javascript:"))


def _decode_image(data: bytes, what: str) -> tuple[int, int]:
    if data.lstrip()[:5] in (b"<?xml", b"<svg ") or b"<svg" in data[:512]:
        assert b"</svg>" in data, f"{what}: truncated SVG"
        return (1, 1)
    with PIL.open(io.BytesIO(data)) as im:
        im.load()  # decodes every pixel: a truncated or corrupt file raises here
        return im.size


def image_problems(path: Path) -> list[str]:
    """Every ``<img>`` of the page whose source is missing or does not decode to a non-empty image."""
    problems = []
    for src in _parse(path).images:
        try:
            if src.startswith("data:"):
                header, _, payload = src.partition(",")
                data = base64.b64decode(payload) if header.endswith(";base64") else unquote(payload).encode()
            elif _is_internal(src):
                target = (path.parent / unquote(urlsplit(src).path)).resolve()
                if not target.is_file():
                    problems.append(f"{src[:80]}: no such file {target}")
                    continue
                data = target.read_bytes()
            else:
                problems.append(f"{src[:80]}: an external image (the pages must be self-contained)")
                continue
            width, height = _decode_image(data, src[:80])
            if width <= 0 or height <= 0:
                problems.append(f"{src[:80]}: empty image {width}x{height}")
        except Exception as exc:  # noqa: BLE001 - any decode failure is a finding
            problems.append(f"{src[:80]}: does not decode ({type(exc).__name__}: {exc})")
    return problems


def link_problems(path: Path, site_root: Path) -> list[str]:
    """Every internal reference of the page whose target file (or ``#fragment`` id) does not exist."""
    problems, ids_cache = [], {}
    page = _parse(path)
    for tag, url in page.refs:
        if url.startswith("data:"):
            continue
        if not _is_internal(url):
            if tag in ("script", "link", "img"):  # the pages must render offline
                problems.append(f"<{tag}> {url}: loads an external resource")
            continue
        parts = urlsplit(url)
        target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            problems.append(f"<{tag}> {url}: no such file {target}")
            continue
        fragment = unquote(parts.fragment)
        if fragment and tag == "a" and target.suffix == ".html" and target.is_relative_to(site_root):
            if target not in ids_cache:
                ids_cache[target] = page.ids if target == path else _parse(target).ids
            if fragment not in ids_cache[target]:
                problems.append(f"<a> {url}: no element with id {fragment!r} in {target.name}")
    return problems


# --- Chromium -------------------------------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


_HARNESS = """<!doctype html><meta charset="utf-8"><title>harness</title>
<iframe id="f" src="{src}" style="width:1280px;height:20000px;border:0"></iframe>
<pre id="result">pending</pre>
<script>
const frame = document.getElementById("f");
frame.addEventListener("load", async () => {{
  const out = document.getElementById("result");
  try {{
    const doc = frame.contentDocument;
    const imgs = Array.from(doc.images);
    for (const img of imgs) {{ img.loading = "eager"; }}
    await Promise.all(imgs.map(img => img.complete ? null : new Promise(ok => {{
      img.addEventListener("load", ok); img.addEventListener("error", ok); }})));
    const rows = imgs.map(img => ({{src: img.getAttribute("src").slice(0, 80), w: img.naturalWidth,
                                    h: img.naturalHeight}}));
    const mj = frame.contentWindow.MathJax;
    if (mj && mj.startup && mj.startup.promise) {{ await mj.startup.promise; }}
    const math = {{source: doc.querySelectorAll("span.math, div.math").length,
                   typeset: doc.querySelectorAll("mjx-container").length}};
    out.textContent = "RESULT" + JSON.stringify({{title: doc.title, images: rows, math: math}}) + "END";
  }} catch (err) {{
    out.textContent = "RESULT" + JSON.stringify({{error: String(err)}}) + "END";
  }}
}});
</script>
"""


def _run_chromium(args: list[str]) -> subprocess.CompletedProcess:
    exe = _chromium()
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--hide-scrollbars", "--allow-file-access-from-files", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S)


def browser_images(page: Path, tmp_path: Path) -> dict:
    """Load ``page`` in headless Chromium (through a harness page) and return its images' natural sizes."""
    harness = tmp_path / f"harness-{page.stem}.html"
    harness.write_text(_HARNESS.format(src=html.escape(page.resolve().as_uri(), quote=True)))
    proc = _run_chromium(["--virtual-time-budget=30000", "--dump-dom", harness.as_uri()])
    match = re.search(r"RESULT(.*?)END", html.unescape(proc.stdout), re.S)
    assert match, f"Chromium produced no result for {page} (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    return json.loads(match.group(1))


def screenshot(page: Path, name: str) -> Path:
    """A 1280 x 1600 screenshot of ``page``, kept under the artifact folder; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    proc = _run_chromium(["--window-size=1280,1600", "--virtual-time-budget=10000",
                          f"--screenshot={shot}", page.resolve().as_uri()])
    assert shot.is_file(), f"no screenshot of {page} (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    with PIL.open(shot) as im:
        im.load()
        assert im.size == (1280, 1600)
        colours = im.convert("L").getextrema()
    assert colours[0] != colours[1], f"the screenshot of {page} is a blank page"
    return shot


def check_page(page: Path, site_root: Path, name: str, tmp_path: Path, *, min_images: int = 0) -> None:
    assert page.is_file(), page
    n_images = len(_parse(page).images)
    assert n_images >= min_images, f"{page}: {n_images} images, expected at least {min_images}"
    problems = image_problems(page) + link_problems(page, site_root)
    assert not problems, f"{page}:\n" + "\n".join(problems)
    if _chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium); file checks passed")
    result = browser_images(page, tmp_path)
    assert "error" not in result, f"{page}: harness error {result['error']}"
    assert len(result["images"]) == n_images, (result, n_images)
    broken = [img for img in result["images"] if img["w"] <= 0 or img["h"] <= 0]
    assert not broken, f"{page}: Chromium did not decode {broken}"
    math = result["math"]
    assert math["typeset"] >= math["source"], f"{page}: MathJax typeset {math} (formulas left as TeX)"
    screenshot(page, name)


# --- the pages ------------------------------------------------------------------------------------------
def test_checks_can_fail(tmp_path):
    """A page with a broken image, a missing link target and a bad fragment: each is reported."""
    (tmp_path / "ok.png").write_bytes(_png_bytes())
    (tmp_path / "bad.png").write_bytes(_png_bytes()[:40])  # truncated
    page = tmp_path / "index.html"
    page.write_text('<html><body id="top"><img src="ok.png"><img src="bad.png"><img src="gone.png">'
                    '<a href="#top">ok</a><a href="#nowhere">x</a><a href="missing.html">y</a>'
                    '<a href="https://example.org/">an external link is fine</a>'
                    '<script src="https://example.org/x.js"></script>'
                    '<span class="math">\\(x^2\\)</span></body></html>')
    images = image_problems(page)
    assert len(images) == 2 and "bad.png" in images[0] and "gone.png" in images[1], images
    links = link_problems(page, tmp_path)
    assert len(links) == 4 and "nowhere" in links[1] and "missing.html" in links[2], links
    assert "external resource" in links[3], links
    if _chromium() is not None:
        result = browser_images(page, tmp_path)
        widths = [img["w"] for img in result["images"]]
        assert widths[0] > 0 and widths[1] == 0 and widths[2] == 0, result
        assert result["math"] == {"source": 1, "typeset": 0}, result  # no MathJax: left as TeX


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    PIL.new("RGB", (8, 4), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.slow
def test_report_page(tmp_path):
    """The ``--quick`` report's index.html: figures decode, links resolve, Chromium renders it."""
    from roast_toolkit.report import build_report

    out = tmp_path / "report"
    report = build_report(out, quick=True, progress=False)
    assert report.status == "passed", report.problems()
    check_page(out / "index.html", out, "report-index", tmp_path, min_images=3)


def _docs_pages() -> list[str]:
    if not (DOCS_HTML / "index.html").is_file():
        return []
    pages = ["index.html", "api/index.html", "user_guide/theory.html"]
    pages += sorted(p.relative_to(DOCS_HTML).as_posix() for p in (DOCS_HTML / "notebooks").glob("*.html"))
    return pages


@pytest.mark.parametrize("rel", _docs_pages() or ["index.html"])
def test_docs_page(rel, tmp_path):
    """Pages of the built documentation (``$ROAST_DOCS_HTML``); each notebook page shows its figures."""
    if not (DOCS_HTML / "index.html").is_file():
        pytest.skip(f"no built documentation in {DOCS_HTML} (python -m sphinx -W -b html docs OUT, "
                    "then ROAST_DOCS_HTML=OUT)")
    min_images = 1 if rel.startswith("notebooks/") else 0
    name = "docs-" + rel.removesuffix(".html").replace("/", "-")
    check_page(DOCS_HTML / rel, DOCS_HTML, name, tmp_path, min_images=min_images)


def test_docs_have_api_pages_and_rendered_notebooks():
    """OUT holds one API page per public name and every notebook of ``notebooks/`` rendered."""
    if not (DOCS_HTML / "index.html").is_file():
        pytest.skip(f"no built documentation in {DOCS_HTML}")
    import cachesim
    import cachesim.kernels
    import cachesim.measure
    import roast_theory

    generated = DOCS_HTML / "api" / "gen" / "generated"
    for pkg in (roast_theory, cachesim, cachesim.kernels, cachesim.measure):
        missing = [n for n in pkg.__all__ if not n.startswith("__")
                   and not (generated / f"{pkg.__name__}.{n}.html").is_file()]
        assert not missing, f"{pkg.__name__}: no API page for {missing}"
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    rendered = sorted(p.stem for p in (DOCS_HTML / "notebooks").glob("*.html"))
    assert rendered == notebooks
