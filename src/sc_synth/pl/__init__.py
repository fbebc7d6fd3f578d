"""Plotting: figures of how real synthetic cells are."""

from ._correlation import correlation
from ._de_scatter import de_scatter
from ._embedding import embedding
from ._evaluation import evaluation
from ._precision_recall import precision_recall
