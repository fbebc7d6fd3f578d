"""Progress bars of long work, shown as scanpy shows its own progress.

One rule decides whether a bar shows (:func:`shown`): scanpy's verbosity is ``"info"`` or higher,
the work is at least of a size worth a bar, and, as tqdm does by default (``disable=None``),
stderr is a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tqdm import tqdm

T = TypeVar("T")

#: Work of fewer chunks ends before a bar would tell anything.
FROM_CHUNKS = 8


def verbose() -> bool:
    """Whether scanpy's verbosity is ``"info"`` or higher, the level from which it shows progress.

    Read without importing scanpy (seconds), so that simulating never loads it: where it is not
    loaded, nobody has raised its verbosity from the default, ``"warning"``.
    """
    sc = sys.modules.get("scanpy")
    return sc is not None and sc.settings.verbosity >= sc.Verbosity.info


def shown(size: int, from_size: int) -> bool:
    """Whether work of ``size`` gets a bar: from ``from_size`` on, and from verbosity "info" on.

    Where this holds, tqdm still draws only on a terminal (``disable=None``).
    """
    return size >= from_size and verbose()


def over_chunks(chunks: Iterable[T], total: int, desc: str) -> Iterator[T]:
    """Yield ``chunks``, counted by a progress bar on stderr from scanpy's verbosity "info" on.

    The bar is drawn only for ``total`` of at least :data:`FROM_CHUNKS` chunks, and, as tqdm does
    by default (``disable=None``), only on a terminal.
    """
    if not shown(total, FROM_CHUNKS):
        yield from chunks
        return
    from tqdm import tqdm

    with tqdm(chunks, total=total, desc=desc, unit="chunk", disable=None) as bar:
        yield from bar


@contextmanager
def counting(
    desc: str, unit: str, *, size: int, from_size: int, total: int | None = None
) -> Iterator[tqdm]:
    """Give a bar on stderr that the work advances with ``update()``, shown as :func:`shown` says.

    ``size`` is the work's size as compared with ``from_size`` (cells, say), ``total`` the count
    the bar goes to: unknown (``None``) until the work sets it with ``reset(total=...)``. Where
    the bar is not shown it is a disabled tqdm, which keeps ``total`` and ignores the rest.
    """
    from tqdm import tqdm

    disable = None if shown(size, from_size) else True
    with tqdm(total=total, desc=desc, unit=unit, disable=disable) as bar:
        yield bar
