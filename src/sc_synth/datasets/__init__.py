"""Small data sets that ship with installed packages (no download)."""

from ._pbmc import pbmc68k_counts

__all__ = ["pbmc68k_counts"]
