"""Tools: train generators, generate synthetic cells, evaluate them against real cells."""

from ._augment import augment
from ._evaluate import evaluate
from ._generate import generate
from ._train import train_gan, train_vae
from ._train_flow import train_flow
