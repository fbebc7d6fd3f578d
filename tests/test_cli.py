import subprocess
import sys

import anndata as ad
import pandas as pd
import pytest
from conftest import make_counts

from sc_synth import cli
from sc_synth._study import split_halves


@pytest.fixture
def counts_file(tmp_path):
    path = tmp_path / "cells.h5ad"
    make_counts(n_cells=120, n_genes=40).write_h5ad(path)
    return path


def assert_fails_with(capsys, argv, message):
    """Exit status 1 and one line on stderr that contains ``message``, no traceback."""
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_run_missing_file(capsys, tmp_path):
    assert_fails_with(
        capsys,
        ["run", str(tmp_path / "nope.h5ad"), "--labels", "x", "--out", str(tmp_path / "o")],
        "does not exist",
    )


def test_run_unreadable_file(capsys, tmp_path):
    bad = tmp_path / "bad.h5ad"
    bad.write_text("not hdf5")
    assert_fails_with(
        capsys,
        ["run", str(bad), "--labels", "x", "--out", str(tmp_path / "o")],
        "cannot read",
    )


def test_run_missing_labels_column_lists_columns(capsys, counts_file, tmp_path):
    assert_fails_with(
        capsys,
        ["run", str(counts_file), "--labels", "celltype", "--out", str(tmp_path / "o")],
        "--labels 'celltype' is not a column of cells.h5ad's obs; columns: cell_type, batch",
    )


def test_run_unwritable_out(capsys, counts_file, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_fails_with(
        capsys,
        ["run", str(counts_file), "--labels", "cell_type", "--out", str(blocker / "sub")],
        "cannot write to --out",
    )


def test_simulate_bad_argument_is_one_line(capsys, tmp_path):
    assert_fails_with(
        capsys,
        ["simulate", "--n-cells", "-5", "--out", str(tmp_path / "s.h5ad")],
        "n_cells",
    )
    assert not list(tmp_path.iterdir())


def test_simulate_writes_h5ad(tmp_path):
    out = tmp_path / "sim.h5ad"
    code = cli.main(
        [
            "simulate",
            "--n-cells",
            "60",
            "--n-genes",
            "30",
            "--batch-cells",
            "30",
            "30",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    adata = ad.read_h5ad(out)
    assert adata.shape == (60, 30)
    assert adata.obs["batch"].nunique() == 2
    assert [p.name for p in tmp_path.iterdir()] == ["sim.h5ad"]


def test_subcommand_help_explains_itself():
    result = subprocess.run(
        [sys.executable, "-m", "sc_synth.cli", "demo", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "--quick" in result.stdout
    assert "precision_recall.png" in result.stdout


def test_run_writes_every_output(counts_file, tmp_path, capsys):
    out = tmp_path / "study"
    code = cli.main(
        ["run", str(counts_file), "--labels", "cell_type", "--batch", "batch"]
        + ["--models", "vae", "--quick", "--out", str(out)]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "embedding.png",
        "metrics.csv",
        "precision_recall.png",
        "report.md",
        "synthetic_vae.h5ad",
    ]
    metrics = pd.read_csv(out / "metrics.csv", index_col=0)
    assert {"real (reference)", "baseline (NB per label)", "vae"} <= set(metrics.index)
    synthetic = ad.read_h5ad(out / "synthetic_vae.h5ad")
    _, held_out = split_halves(ad.read_h5ad(counts_file), ["cell_type", "batch"], seed=0)
    # The generator is asked for the held-out half's composition.
    assert (
        synthetic.obs.value_counts(["cell_type", "batch"])
        .sort_index()
        .equals(held_out.obs.value_counts(["cell_type", "batch"]).sort_index())
    )
    assert synthetic.obs["synthetic"].all()
    report = (out / "report.md").read_text()
    assert "| vae |" in report
    assert "real (reference)" in report
    assert "[sc-synth] done" in capsys.readouterr().err
