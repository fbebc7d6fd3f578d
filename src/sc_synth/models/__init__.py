"""Generators as scvi-tools model classes, the registry of kinds and their records.

:class:`VAEGenerator`, :class:`GANGenerator` and :class:`FlowGenerator` (sub-packages ``vae``,
``gan`` and ``flow``) are the model classes behind :func:`sc_synth.tl.train_vae`,
:func:`sc_synth.tl.train_gan` and :func:`sc_synth.tl.train_flow`;
``_registry`` lists every kind; ``_record`` reads and writes the records in ``adata.uns``.
"""

import importlib

__all__ = ["FlowGenerator", "GANGenerator", "VAEGenerator"]

# The model classes bring in torch and scvi-tools: they load on first use, so that the registry
# (and the command line that lists its kinds) loads without them.
_ON_FIRST_USE = {"FlowGenerator": ".flow", "GANGenerator": ".gan", "VAEGenerator": ".vae"}


def __getattr__(name: str):
    if name in _ON_FIRST_USE:
        return getattr(importlib.import_module(_ON_FIRST_USE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ON_FIRST_USE))
