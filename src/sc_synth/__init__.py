"""Synthetic single-cell RNA-seq counts for scanpy.

Simulate counts with known ground truth (:mod:`sc_synth.pp`), learn generators of new cells and
judge how real synthetic cells are (:mod:`sc_synth.tl`), and plot the verdict (:mod:`sc_synth.pl`).
"""

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sc-synth")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# The sub-packages record __version__ in what they write, so it is set before they load.
from . import datasets, pp

__all__ = ["__version__", "datasets", "models", "pl", "pp", "tl"]

# tl, pl and the model classes bring in torch, scvi-tools and Lightning (seconds and hundreds of
# MB): they load on first use, so that simulating data does not pay for them.
_ON_FIRST_USE = ("models", "pl", "tl")


def __getattr__(name: str):
    if name in _ON_FIRST_USE:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ON_FIRST_USE))
