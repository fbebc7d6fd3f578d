"""Plotting: figures of how real synthetic cells are."""
