"""Synthetic single-cell RNA-seq counts for scanpy.

Simulate counts with known ground truth (:mod:`sc_synth.pp`), learn generators of new cells and
judge how real synthetic cells are (:mod:`sc_synth.tl`), and plot the verdict (:mod:`sc_synth.pl`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sc-synth")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# The sub-packages record __version__ in what they write, so it is set before they load.
from . import datasets, pl, pp, tl

__all__ = ["__version__", "datasets", "pl", "pp", "tl"]
