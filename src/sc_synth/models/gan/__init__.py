"""The conditional GAN: networks, training plan and the :class:`GANGenerator` model class."""

from ._model import GANGenerator

__all__ = ["GANGenerator"]
