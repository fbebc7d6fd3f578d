"""Conditional flow matching in a count autoencoder's latent space."""

from ._model import FlowGenerator

__all__ = ["FlowGenerator"]
