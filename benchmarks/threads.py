"""Training time with torch on one thread per core (the old default) and on the new default count.

Run ``python benchmarks/threads.py``. Each timing is a fresh process that simulates data of
the size ``sc-synth demo --quick`` trains on (300 cells × 300 genes, two batches × two groups,
about 4,000 counts per cell) and times ``ss.tl.train_vae`` and
``ss.tl.train_gan(loss="vanilla")`` (``--epochs`` epochs each) around the call alone, imports
excluded. The thread settings
compared:

- ``one per core``: ``scanpy.settings.n_jobs = -1``, the count torch itself picks and the one
  training used before it followed ``n_jobs``;
- ``one per core, passive``: the same with ``OMP_WAIT_POLICY=passive`` in the environment, so
  that OpenMP's idle threads sleep at once instead of spinning;
- ``default``: the package's default, ``scanpy.settings.n_jobs = 1``.

"busy" runs the same while ``--competitors`` processes (default: one per core) burn a core each
for the whole timing, as other jobs on a shared machine would; "as found" adds nothing to what
else runs. The table holds the median of ``--repeats`` runs, and the
``uptime`` load averages before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from contextlib import contextmanager

_TIMED = """
import json, sys, time
import scanpy as sc
import sc_synth as ss

n_jobs, epochs = int(sys.argv[1]), int(sys.argv[2])
sc.settings.n_jobs = n_jobs
train = ss.pp.simulate(300, 300, batch_cells=[150, 150], group_prob=[0.5, 0.5], lib_loc=8.3)
times = {}
keys = dict(labels_key="group", batch_key="batch", max_epochs=epochs)
for name, fit in (("vae", ss.tl.train_vae), ("vanilla GAN", ss.tl.train_gan)):
    extra = {"loss": "vanilla"} if name != "vae" else {}
    start = time.perf_counter()
    fit(train, key_added="m", **keys, **extra)
    times[name] = time.perf_counter() - start
print(json.dumps(times))
"""

_SETTINGS = {
    "one per core": (-1, {}),
    "one per core, passive": (-1, {"OMP_WAIT_POLICY": "passive"}),
    "default": (1, {}),
}


@contextmanager
def _competitors(n: int):
    """Burn a core in each of ``n`` other processes while the block runs."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def _time(n_jobs: int, env: dict, epochs: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _TIMED, str(n_jobs), str(epochs)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(f"a timed run failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--competitors", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    print(f"before: {_uptime()}")
    rows = []
    for competitors in (0, args.competitors):
        machine = f"busy: +{competitors} burning" if competitors else "as found"
        for setting, (n_jobs, env) in _SETTINGS.items():
            with _competitors(competitors):
                runs = [_time(n_jobs, env, args.epochs) for _ in range(args.repeats)]
            medians = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
            rows.append((machine, setting, medians))
            print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    print(f"after: {_uptime()}")
    print()
    names = list(rows[0][2])
    print("| machine | threads | " + " | ".join(f"{n} (s)" for n in names) + " |")
    print("|---|---|" + "---:|" * len(names))
    for machine, setting, medians in rows:
        print(f"| {machine} | {setting} | " + " | ".join(f"{medians[n]:.1f}" for n in names) + " |")


if __name__ == "__main__":
    main()
