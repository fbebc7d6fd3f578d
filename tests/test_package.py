import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

import sc_synth as ss
from sc_synth import cli


def test_public_surface():
    assert {"pp", "tl", "pl", "datasets"} <= set(dir(ss))
    assert isinstance(ss.__version__, str)
    assert ss.__version__[0].isdigit()


def test_simulating_does_not_load_the_learning_stack():
    code = (
        "import sys; import sc_synth as ss; print('scanpy' in sys.modules); "
        "ss.pp.simulate(50, 40); "
        "print('torch' in sys.modules, 'scvi' in sys.modules); "
        "ss.tl.evaluate; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    after_import, after_simulate, after_tl = out.stdout.strip().splitlines()[-3:]
    assert after_import == "False", "import sc_synth should not import scanpy (seconds)"
    assert after_simulate == "False False"
    assert after_tl == "True"


def test_cli_help_exits_zero_and_explains(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "sc-synth" in out
    assert "synthetic" in out.lower()


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"sc-synth {ss.__version__}"


def test_cli_without_command_is_a_usage_error(capsys):
    assert cli.main([]) == 2
    assert "usage: sc-synth" in capsys.readouterr().err


def test_cli_unknown_command_fails(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2


def test_console_script_prints_help():
    script = shutil.which("sc-synth", path=str(Path(sys.executable).parent))
    assert script is not None, "the sc-synth console script is not installed beside python"
    result = subprocess.run([script, "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "usage: sc-synth" in result.stdout


def test_counts_fixture_is_integer_counts(counts_adata):
    assert sparse.issparse(counts_adata.X)
    data = counts_adata.X.data
    assert np.all(data == np.round(data))
    assert np.all(data >= 0)
    assert counts_adata.obs["cell_type"].cat.categories.tolist() == ["type_0", "type_1", "type_2"]
    assert counts_adata.obs["batch"].nunique() == 2


def test_counts_fixture_has_markers(counts_adata):
    x = counts_adata.X.toarray()
    is_type0 = (counts_adata.obs["cell_type"] == "type_0").to_numpy()
    frac = x / x.sum(1, keepdims=True)
    assert frac[is_type0, :5].mean() > 3 * frac[~is_type0, :5].mean()


def test_pbmc68k_counts_are_recovered_integers():
    adata = ss.datasets.pbmc68k_counts()
    assert adata.shape == (700, 765)
    assert sparse.isspmatrix_csr(adata.X)
    assert np.all(adata.X.data == np.rint(adata.X.data))
    assert adata.X.data.min() >= 1
    # Re-normalising the recovered counts must give back scanpy's stored log values.
    import scanpy as sc

    reduced = sc.datasets.pbmc68k_reduced()
    counts = adata.X.toarray()
    stored = reduced.raw.X.toarray()
    per_cell = np.expm1(stored) / np.where(counts > 0, counts, np.nan)
    assert np.nanmax(np.nanstd(per_cell, axis=1) / np.nanmean(per_cell, axis=1)) < 1e-3
    assert np.array_equal(stored > 0, counts > 0)
    assert adata.obs["bulk_labels"].nunique() == 10
