"""A progress bar over chunks of long work, shown as scanpy shows its own progress."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

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


def over_chunks(chunks: Iterable[T], total: int, desc: str) -> Iterator[T]:
    """Yield ``chunks``, counted by a progress bar on stderr from scanpy's verbosity "info" on.

    The bar is drawn only for ``total`` of at least :data:`FROM_CHUNKS` chunks, and, as tqdm does
    by default (``disable=None``), only on a terminal.
    """
    if total < FROM_CHUNKS or not verbose():
        yield from chunks
        return
    from tqdm import tqdm

    with tqdm(chunks, total=total, desc=desc, unit="chunk", disable=None) as bar:
        yield from bar
