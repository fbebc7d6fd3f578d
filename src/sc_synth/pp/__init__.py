"""Preprocessing: simulate counts with known ground truth and estimate simulation parameters."""
