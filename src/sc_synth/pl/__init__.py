"""Plotting: figures of how real synthetic cells are."""

from ._embedding import embedding
from ._precision_recall import precision_recall
