"""Sphinx configuration."""

import os
import shutil
from datetime import date
from importlib.metadata import version as _version
from pathlib import Path

project = "sc_synth"
author = "sc_synth developers"
copyright = f"{date.today():%Y}, {author}"
release = _version("sc-synth")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "sphinx_autodoc_typehints",
]

# Sphinx warns (an error under -W) for every inventory it cannot fetch, and a build machine without
# internet cannot fetch any: the mapping is used where the docs are published (Read the Docs sets
# READTHEDOCS) or when asked for with SC_SYNTH_INTERSPHINX=1; elsewhere references to other
# projects render as plain names.
intersphinx_mapping = (
    {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "pandas": ("https://pandas.pydata.org/docs", None),
        "anndata": ("https://anndata.readthedocs.io/en/stable", None),
        "scanpy": ("https://scanpy.readthedocs.io/en/stable", None),
        "scvi-tools": ("https://docs.scvi-tools.org/en/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
    }
    if os.environ.get("READTHEDOCS") or os.environ.get("SC_SYNTH_INTERSPHINX") == "1"
    else {}
)

# Every cross-reference must resolve under sphinx-build -n. Without the inventories, names from
# other projects cannot: they are let through only then, so that they are checked where the docs
# are published.
_EXTERNAL = (
    "anndata", "numpy", "pandas", "scipy", "torch", "matplotlib", "scvi", "lightning", "scanpy",
    "collections", "pathlib", "os", "typing", "builtins", "zarr", "dask",
)  # fmt: skip
_BUILTINS = ("Ellipsis", "None", "list", "dict", "tuple", "str", "int", "float", "bool", "callable")
nitpick_ignore_regex = (
    [
        (r"py:.*", rf"({'|'.join(_EXTERNAL)})(\..*)?"),
        (r"py:.*", rf"({'|'.join(_BUILTINS)})"),
    ]
    if not intersphinx_mapping
    else []
)

autosummary_generate = True
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = True
# Types named in docstrings link to their projects' pages.
napoleon_preprocess_types = True
napoleon_type_aliases = {
    "AnnData": "~anndata.AnnData",
    "Axes": "~matplotlib.axes.Axes",
    "Figure": "~matplotlib.figure.Figure",
    "DataFrame": "~pandas.DataFrame",
}
typehints_defaults = "braces"
always_document_param_types = True

# The notebooks live in tutorials/ at the top of the repository (where CI executes them); the
# docs render copies of them, outputs included.
_here = Path(__file__).parent
(_here / "tutorials").mkdir(exist_ok=True)
for _notebook in sorted((_here.parent / "tutorials").glob("*.ipynb")):
    shutil.copy2(_notebook, _here / "tutorials" / _notebook.name)

# autosummary's stubs are build output: written afresh each build, so none outlives its function.
shutil.rmtree(_here / "generated", ignore_errors=True)

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
# Tutorials execute in CI through pytest; the docs render their stored outputs.
nb_execution_mode = "off"

# autosummary writes its reST stubs with the first suffix here whose parser it takes for reST, and it
# looks parsers up by suffix, so a leading ".md" would get reST stubs rendered as Markdown text.
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]


html_theme = "sphinx_book_theme"
html_title = "sc_synth"
html_static_path = ["_static"]
