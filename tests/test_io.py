import anndata as ad
import numpy as np
import pytest

from sc_synth._io import atomic_path, write_h5ad


def test_write_h5ad_round_trip_leaves_no_temporary_file(tmp_path):
    adata = ad.AnnData(np.arange(6, dtype=np.float32).reshape(2, 3))
    write_h5ad(adata, tmp_path / "x.h5ad")
    assert [p.name for p in tmp_path.iterdir()] == ["x.h5ad"]
    np.testing.assert_array_equal(ad.read_h5ad(tmp_path / "x.h5ad").X, adata.X)


def test_failed_write_keeps_the_old_file_and_no_partial_one(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")

    def interrupted_write():
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted_write()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
