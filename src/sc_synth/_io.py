"""Writing files so that an interrupted run never leaves a half-written file behind."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from anndata import AnnData


def _new_file(path: Path) -> Path:
    """Create an empty, uniquely named file beside ``path`` and return its path.

    ``tempfile.mkstemp`` creates its file with mode 0600, and the rename would hand that
    owner-only mode to the result. Creating the file with mode 0666 lets the kernel apply the
    umask (and any default ACL), as for a file written directly, without reading or changing the
    process-wide umask.
    """
    while True:
        tmp = path.with_name(f".{path.stem}-{secrets.token_hex(6)}{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    The file gets the mode of any new file under the current umask.
    """
    path = Path(path)
    tmp = _new_file(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_h5ad(adata: AnnData, path: str | os.PathLike) -> None:
    """Write ``adata`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp)
