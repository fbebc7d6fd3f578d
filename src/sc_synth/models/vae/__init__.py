"""The conditional count VAE: module, latent prior and the :class:`VAEGenerator` model class."""

from ._model import VAEGenerator

__all__ = ["VAEGenerator"]
