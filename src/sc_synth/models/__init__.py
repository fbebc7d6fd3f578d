"""Generators as scvi-tools model classes, the registry of kinds and their records.

:class:`VAEGenerator` and :class:`GANGenerator` (sub-packages ``vae`` and ``gan``) are the
model classes behind :func:`sc_synth.tl.train_vae` and :func:`sc_synth.tl.train_gan`;
``_registry`` lists every kind; ``_record`` reads and writes the records in ``adata.uns``.
"""

import importlib

__all__ = ["GANGenerator", "VAEGenerator"]

# The model classes bring in torch and scvi-tools: they load on first use, so that the registry
# (and the command line that lists its kinds) loads without them.
_ON_FIRST_USE = {"GANGenerator": ".gan", "VAEGenerator": ".vae"}


def __getattr__(name: str):
    if name in _ON_FIRST_USE:
        return getattr(importlib.import_module(_ON_FIRST_USE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ON_FIRST_USE))
