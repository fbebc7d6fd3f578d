"""Tools: train generators, generate synthetic cells, evaluate them against real cells."""

from ._augment import augment
from ._embedding import embedding
from ._evaluate import evaluate
from ._fold_changes import de_fold_changes
from ._gene_correlations import gene_correlations
from ._generate import generate
from ._train import train_gan, train_vae
from ._train_flow import train_flow
