"""Sphinx configuration of the roast-toolkit documentation.

Build (from the repository root, after ``pip install -e '.[docs]'``)::

    python -m sphinx -W -b html docs OUT

Two things are generated here, before Sphinx reads any page, into git-ignored folders:

* ``docs/api/gen/<package>.rst``: one page per package with an ``autosummary`` table of the names in the
  package's ``__all__`` (so the reference follows the code: a name added to or removed from ``__all__``
  appears or disappears without editing the docs); autosummary writes one stub per name under
  ``docs/api/gen/generated/``.
* ``docs/notebooks/*.ipynb``: copies of ``notebooks/*.ipynb``, each with one hidden first cell that
  changes the kernel's working directory to the real ``notebooks/`` folder (the notebooks read
  ``../measurements/...`` relative to it) and selects the inline matplotlib backend. myst-nb executes
  the copies during the build (outputs are cached in ``docs/_build/.jupyter_cache``; a changed notebook
  runs again) and renders their figures.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages win over an older installed copy
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

project = "roast-toolkit"
author = "roast-toolkit contributors"
copyright = "roast-toolkit contributors, MIT license"

try:
    from roast_toolkit import __version__ as release
except ImportError:  # pragma: no cover - the docs need the package importable anyway
    release = "unknown"
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # serves MathJax from _static/ (the pages render formulas offline)
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "api/gen/generated/*.md"]
templates_path = ["_templates"]

# --- API reference -----------------------------------------------------------------------------------
#: The documented packages, in reference order; every name in each ``__all__`` gets a page.
API_PACKAGES = [
    ("roast_theory", "Theory: hash families, mappings, closed forms, Monte Carlo, torch layers"),
    ("cachesim", "The cache simulator core: hierarchies, replay, stack distances, traces"),
    ("cachesim.kernels", "Kernel traces, analytic traffic and the cost model"),
    ("cachesim.measure", "Triton kernels, measurement harness, records, model vs measurement"),
    ("roast_toolkit", "The application layer"),
]
#: Summaries of the application's subpackages; any other public subpackage or module of ``roast_toolkit``
#: (found at build time) is documented too, with its docstring's first line as summary.
APP_SUMMARIES = {"roast_toolkit.report": "The end-to-end report"}


def _app_modules() -> list[tuple[str, str]]:
    import pkgutil

    import roast_toolkit

    found = []
    for info in pkgutil.iter_modules(roast_toolkit.__path__, "roast_toolkit."):
        if info.name.rsplit(".", 1)[1].startswith("_"):
            continue
        doc = (inspect.getdoc(importlib.import_module(info.name)) or info.name).split("\n", 1)[0]
        found.append((info.name, APP_SUMMARIES.get(info.name, doc.rstrip("."))))
    return sorted(found)


API_PACKAGES += _app_modules()

# The pages to scan for autosummary tables, named explicitly: with ``True`` autosummary scans the documents
# of the *previous* build's environment, so an incremental build after a new package appears would miss it.
autosummary_generate = [f"api/gen/{modname}.rst" for modname, _ in API_PACKAGES]

autosummary_imported_members = True
autosummary_ignore_module_all = False
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"            # numpydoc's Parameters sections carry the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # the class template lists members itself (no duplicate tables)
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
add_module_names = False

# Warnings that -W would turn into errors but that are not defects of these pages; each entry says why.
suppress_warnings: list[str] = []
nitpicky = False


def _public_names(modname: str) -> list[str]:
    module = importlib.import_module(modname)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items()
                 if not n.startswith("_") and getattr(obj, "__module__", None) == modname]
    return [n for n in names if not (n.startswith("__") and n.endswith("__"))]


def _api_page(modname: str, summary: str) -> str:
    module = importlib.import_module(modname)
    title = f"``{modname}``"
    doc = inspect.getdoc(module) or ""
    first = doc.split("\n\n", 1)[0].replace("\n", " ") if doc else summary
    lines = [title, "=" * len(title), "", f".. currentmodule:: {modname}", "", summary + ".", ""]
    if first and first.rstrip(".") != summary.rstrip("."):
        lines += ["*From the module docstring:* " + first, ""]
    names = _public_names(modname)
    kinds = {"Functions": [], "Classes": [], "Modules and data": []}
    for name in names:
        obj = getattr(module, name)
        if inspect.isclass(obj):
            kinds["Classes"].append(name)
        elif callable(obj) and not inspect.ismodule(obj):
            kinds["Functions"].append(name)
        else:
            kinds["Modules and data"].append(name)
    for heading, members in kinds.items():
        if not members:
            continue
        lines += [heading, "-" * len(heading), "", ".. autosummary::", "   :toctree: generated", ""]
        lines += [f"   {name}" for name in members]
        lines.append("")
    return "\n".join(lines)


def _write_if_changed(path: Path, text: str) -> None:
    # Rewriting an unchanged file would make Sphinx re-read it (and myst-nb re-check the cache).
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def generate_api_pages() -> None:
    gen = DOCS / "api" / "gen"
    for modname, summary in API_PACKAGES:
        _write_if_changed(gen / f"{modname}.rst", _api_page(modname, summary))
    # Pages of names that are no longer public (renamed, dropped from __all__, package gone) would be
    # documents outside every toctree: remove them.
    packages = {modname for modname, _ in API_PACKAGES}
    public = {f"{modname}.{name}" for modname in packages for name in _public_names(modname)}
    for stale in gen.glob("*.rst"):
        if stale.stem not in packages:
            stale.unlink()
    for stale in (gen / "generated").glob("*.rst"):
        if stale.stem not in public:
            stale.unlink()


# --- notebooks ---------------------------------------------------------------------------------------
NOTEBOOK_SRC = ROOT / "notebooks"


def copy_notebooks() -> None:
    """Copy ``notebooks/*.ipynb`` into ``docs/notebooks/`` with a hidden ``chdir`` cell first."""
    dest = DOCS / "notebooks"
    dest.mkdir(exist_ok=True)
    wanted = set()
    for src in sorted(NOTEBOOK_SRC.glob("*.ipynb")):
        nb = json.loads(src.read_text())
        setup = {
            "cell_type": "code",
            "execution_count": None,
            "id": "docs-build-chdir",
            "metadata": {"tags": ["remove-cell"]},
            "outputs": [],
            "source": [
                "# added by docs/conf.py: run with notebooks/ as the working directory, as in the tests,\n",
                "# and draw figures inline whatever MPLBACKEND says\n",
                "import os\n",
                f"os.chdir({str(NOTEBOOK_SRC)!r})\n",
                "%matplotlib inline",
            ],
        }
        nb["cells"] = [setup] + nb["cells"]
        _write_if_changed(dest / src.name, json.dumps(nb, indent=1) + "\n")
        wanted.add(src.name)
    for stale in dest.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()


generate_api_pages()
copy_notebooks()

# --- MyST / myst-nb ----------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# "cache": execute a notebook when its code changed since the last build (outputs cached, see below);
# ROAST_DOCS_NB_EXECUTION=off skips execution for a quick look at the prose pages.
# ROAST_DOCS_NB_EXECUTION=force runs every notebook again (say after a change of the library they call).
nb_execution_mode = os.environ.get("ROAST_DOCS_NB_EXECUTION", "cache")
# The cache is keyed by the notebooks' code cells; kept in docs/_build/ (git-ignored) whatever OUT is.
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 900           # a hang guard: each notebook takes ~20-60 s on 2 cores
nb_execution_raise_on_error = True   # a notebook cell that raises fails the build
nb_execution_show_tb = True
nb_merge_streams = True

# --- HTML --------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "roast-toolkit"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": [],
}
# Single pages without siblings get no (empty) section navigation on the left.
html_sidebars = {page: [] for page in ("index", "getting_started", "glossary", "gpu_records")}
html_show_sourcelink = False
html_copy_source = False


def _outputs_under_docs_build(app) -> None:
    # myst-nb writes the executed notebooks and their image files beside OUT (OUT/../jupyter_execute);
    # keep them in docs/_build/ (git-ignored) instead: building into any OUT leaves the checkout clean.
    config = getattr(app.env, "mystnb_config", None)
    if config is not None:
        app.env.mystnb_config = config.copy(output_folder=str(DOCS / "_build" / "jupyter_execute"))


def setup(app):
    app.connect("builder-inited", _outputs_under_docs_build, priority=900)  # after myst-nb's own handler
