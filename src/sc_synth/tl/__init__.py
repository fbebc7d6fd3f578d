"""Tools: train generators, generate synthetic cells, evaluate them against real cells."""
