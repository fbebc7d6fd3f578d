import signal
import subprocess
import sys
import textwrap

import anndata as ad
import pandas as pd
import pytest
from conftest import make_counts

from sc_synth import _study, cli
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
        "--n-cells must be at least 1",
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
    assert "Takes about 6 minutes" in " ".join(result.stdout.split())


@pytest.mark.slow
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
    assert "± " in report
    assert {"precision_sd", "recall_sd"} <= set(metrics.columns)
    assert metrics.loc["vae", "precision_sd"] > 0
    assert "done: results in" in capsys.readouterr().err


def test_simulate_unwritable_out_names_the_file(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = blocker / "sub" / "s.h5ad"
    assert_fails_with(
        capsys, ["simulate", "--out", str(out)], f"cannot write to --out {str(out)!r}"
    )


def test_simulate_defaults_make_a_study_sensible(tmp_path):
    out = tmp_path / "sim.h5ad"
    assert cli.main(["simulate", "--n-cells", "101", "--n-genes", "200", "--out", str(out)]) == 0
    adata = ad.read_h5ad(out)
    assert adata.obs["batch"].value_counts().sort_index().tolist() == [51, 50]
    assert adata.obs["group"].nunique() == 2
    # Droplet depth, about 4,000 counts per cell, not Splat's default of about 60,000.
    assert 2_000 < float(adata.obs["exp_lib_size"].median()) < 8_000


def test_simulate_options_change_the_design(tmp_path):
    out = tmp_path / "sim.h5ad"
    argv = ["simulate", "--n-cells", "90", "--n-genes", "50", "--batches", "3", "--groups", "1"]
    assert cli.main([*argv, "--lib-loc", "11", "--out", str(out)]) == 0
    adata = ad.read_h5ad(out)
    assert adata.obs["batch"].nunique() == 3
    assert adata.obs["group"].nunique() == 1
    assert float(adata.obs["exp_lib_size"].median()) > 30_000


def test_errors_come_before_the_learning_stack_loads(tmp_path, counts_file):
    """Each mistake fails in a fresh interpreter that has not imported torch by then."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    bad_counts = tmp_path / "normalised.h5ad"
    adata = make_counts(n_cells=60, n_genes=20)
    adata.X = adata.X / 3
    adata.write_h5ad(bad_counts)
    cases = [
        ["run", str(tmp_path / "nope.h5ad"), "--labels", "cell_type"],
        ["run", str(counts_file), "--labels", "cell_type", "--out", str(blocker / "o")],
        ["run", str(counts_file), "--labels", "celltype"],
        ["run", str(bad_counts), "--labels", "cell_type"],
        ["demo", "--out", str(blocker / "o")],
    ]
    script = textwrap.dedent(
        f"""
        import sys
        from sc_synth import cli
        for argv in {cases!r}:
            if "--out" not in argv:
                argv = argv + ["--out", {str(tmp_path / "o")!r}]
            code = cli.main(argv)
            print(code, "torch" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.split() == ["1", "False"] * len(cases), result.stderr
    assert len(result.stderr.strip().splitlines()) == len(cases)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.h5ad", "file", "normalised.h5ad"]


def test_run_without_x_asks_for_the_layer(capsys, tmp_path):
    path = tmp_path / "layers.h5ad"
    adata = make_counts(n_cells=60, n_genes=20)
    adata.layers["counts"] = adata.X
    adata.X = None
    adata.write_h5ad(path)
    argv = ["run", str(path), "--labels", "cell_type", "--out", str(tmp_path / "o")]
    assert_fails_with(capsys, argv, "layers.h5ad has no X; name the layer with the counts")


def test_run_refuses_non_counts_in_one_line_and_leaves_no_folder(capsys, tmp_path):
    path = tmp_path / "normalised.h5ad"
    adata = make_counts(n_cells=60, n_genes=20)
    adata.X = adata.X.log1p()
    adata.write_h5ad(path)
    out = tmp_path / "new" / "study"
    assert_fails_with(
        capsys,
        ["run", str(path), "--labels", "cell_type", "--out", str(out)],
        "X of normalised.h5ad holds non-integer values",
    )
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("n_cells", "labels", "message"),
    [
        (60, ["a", "b"] * 29 + ["c", "d"], "labels 'c', 'd' have too few cells"),
        (60, [f"cell {i}" for i in range(60)], "is it a column of cell types?"),
        (20, ["a", "b"] * 10, "needs at least 12 cells (it has 10)"),
    ],
)
def test_run_refuses_degenerate_labels_and_sizes(capsys, tmp_path, n_cells, labels, message):
    path = tmp_path / "cells.h5ad"
    adata = make_counts(n_cells=n_cells, n_genes=20)
    adata.obs["cell_type"] = labels
    adata.write_h5ad(path)
    assert_fails_with(
        capsys, ["run", str(path), "--labels", "cell_type", "--out", str(tmp_path / "o")], message
    )
    assert not (tmp_path / "o").exists()


def test_run_warns_about_a_single_label(capsys, tmp_path, monkeypatch):
    path = tmp_path / "cells.h5ad"
    adata = make_counts(n_cells=60, n_genes=20)
    adata.obs["group"] = "Group1"
    adata.write_h5ad(path)
    calls = []
    monkeypatch.setattr(_study, "run_study", lambda adata, **kwargs: calls.append(kwargs))
    code = cli.main(["run", str(path), "--labels", "group", "--out", str(tmp_path / "o")])
    assert code == 0
    assert len(calls) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "WARNING: --labels 'group' has one label ('Group1'): the generators are not conditioned "
        "on cell type and the study cannot compare types"
    ]


@pytest.fixture
def sigint_handler():
    """SIGINT's handler before the test: the default, or ignored where the run was started so."""
    return signal.getsignal(signal.SIGINT)


def assert_interrupted(capsys, code, command, out, handler):
    assert code == 130
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1] == f"sc-synth {command}: interrupted"
    assert "Traceback" not in captured.err
    assert not out.exists()
    assert signal.getsignal(signal.SIGINT) == handler
    return captured


def test_interrupt_during_simulation_leaves_nothing(capsys, tmp_path, monkeypatch, sigint_handler):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_study, "simulated_data", interrupted)
    out = tmp_path / "demo"
    code = cli.main(["demo", "--quick", "--out", str(out)])
    assert_interrupted(capsys, code, "demo", out, sigint_handler)


@pytest.mark.parametrize("how", ["exception", "signal"])
def test_interrupt_during_training_leaves_nothing(
    capsys, counts_file, tmp_path, monkeypatch, how, sigint_handler
):
    """A KeyboardInterrupt inside Lightning's loop, or Ctrl-C itself, ends the run cleanly."""
    import scvi

    def training_step(self, batch, batch_idx):
        if how == "signal":
            signal.raise_signal(signal.SIGINT)
            return original(self, batch, batch_idx)
        raise KeyboardInterrupt

    original = scvi.train.TrainingPlan.training_step
    monkeypatch.setattr(scvi.train.TrainingPlan, "training_step", training_step)
    out = tmp_path / "study"
    argv = ["run", str(counts_file), "--labels", "cell_type", "--models", "vae", "--quick"]
    code = cli.main([*argv, "--out", str(out)])
    captured = assert_interrupted(capsys, code, "run", out, sigint_handler)
    if how == "signal":
        # Ctrl-C stops Lightning's loop without passing through its handler, where scvi-tools
        # prints the exception.
        assert "Exception raised during training" not in captured.out
