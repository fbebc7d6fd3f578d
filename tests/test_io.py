import os
import stat

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


@pytest.fixture(params=[0o022, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_files_get_the_mode_the_umask_allows(tmp_path, umask):
    with atomic_path(tmp_path / "report.md") as tmp:
        tmp.write_text("text")
    write_h5ad(ad.AnnData(np.ones((2, 3), dtype=np.float32)), tmp_path / "x.h5ad")
    expected = 0o666 & ~umask
    for name in ("report.md", "x.h5ad"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name
