import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from sc_synth.pp import _store
from sc_synth.pp._splat import Piece
from sc_synth.pp._store import write_zarr


def _pieces(matrix: sparse.csr_matrix, rows_per_piece: int):
    for start in range(0, matrix.shape[0], rows_per_piece):
        part = matrix[start : start + rows_per_piece]
        yield Piece(part.data, part.indices, np.diff(part.indptr)), None


@pytest.fixture
def frame():
    matrix = sparse.random(300, 40, density=0.2, format="csr", random_state=0, dtype=np.float32)
    matrix.data = np.ceil(matrix.data * 10)
    obs = pd.DataFrame(index=[f"c{i}" for i in range(300)])
    var = pd.DataFrame(index=[f"g{j}" for j in range(40)])
    return matrix, ad.AnnData(obs=obs, var=var, uns={"note": "kept"})


@pytest.mark.parametrize("chunk", [7, 64, 2**20])
def test_rows_written_in_any_chunking_read_back_equal(tmp_path, monkeypatch, frame, chunk):
    matrix, adata = frame
    monkeypatch.setattr(_store, "_CHUNK", chunk)
    backed = write_zarr(adata, _pieces(matrix, 37), False, tmp_path / "x.zarr")
    assert (sparse.csr_matrix(backed.X[:]) != matrix).nnz == 0
    back = ad.read_zarr(tmp_path / "x.zarr")
    assert (back.X != matrix).nnz == 0
    assert back.uns["note"] == "kept"
    assert list(back.obs_names) == list(adata.obs_names)
    assert [p.name for p in tmp_path.iterdir()] == ["x.zarr"]


def test_a_failure_midway_leaves_nothing_behind(tmp_path, frame):
    matrix, adata = frame

    def failing():
        pieces = _pieces(matrix, 50)
        yield next(pieces)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_zarr(adata, failing(), False, tmp_path / "x.zarr")
    assert list(tmp_path.iterdir()) == []


def test_missing_rows_are_an_error_and_leave_nothing(tmp_path, frame):
    matrix, adata = frame
    with pytest.raises(RuntimeError, match="250 rows were written, 300 expected"):
        write_zarr(adata, _pieces(matrix[:250], 50), False, tmp_path / "x.zarr")
    assert list(tmp_path.iterdir()) == []
