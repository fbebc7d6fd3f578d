"""Time and peak memory of precision, recall, density and coverage: sc_synth against prdc.

Each measurement runs in a fresh process; the peak memory reported is the rise of the process's
peak resident size during the call, over what the inputs and imports already held. sc_synth's
compiled kernels are warmed up (and cached on disk) before timing. prdc is measured only where its
full distance matrices fit in memory.

    python benchmarks/evaluate.py [--sizes 1000 10000 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing as mp
import resource
import time

import numpy as np

DIMS = 30
K = 5
PRDC_MAX = 20_000  # prdc holds three n x n float64 matrices (n = 20,000: 9.6 GB)


def _points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # a PCA-like spectrum: spread falls off with the component index
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(np.arange(1, DIMS + 1))
    real = rng.standard_normal((n, DIMS)) * scale
    fake = rng.standard_normal((n, DIMS)) * scale * 1.05 + 0.02
    return real.astype(np.float32), fake.astype(np.float32)


def _measure(method: str, n: int, seed: int, queue) -> None:
    real, fake = _points(n, seed)
    if method == "sc_synth":
        from sc_synth.tl._neighbors import prdc as run

        run(real[:50], fake[:50], K)
    else:
        from prdc import compute_prdc as run
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = run(real, fake, K)
    seconds = time.perf_counter() - start
    peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    queue.put((seconds, peak_mib, {key: float(v) for key, v in result.items()}))


def _run(method: str, n: int, seed: int):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_measure, args=(method, n, seed, queue))
    process.start()
    out = queue.get()
    process.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'cells per set':>13} | {'method':>8} | {'median s':>8} | {'peak MiB':>8} | result")
    for n in args.sizes:
        methods = ["sc_synth"] + (["prdc"] if n <= PRDC_MAX else [])
        results = {}
        for method in methods:
            runs = [_run(method, n, seed) for seed in range(args.repeats)]
            seconds = np.median([r[0] for r in runs])
            peak = np.median([r[1] for r in runs])
            results[method] = [r[2] for r in runs]
            shown = ", ".join(f"{key[0]}={value:.4f}" for key, value in runs[0][2].items())
            print(f"{n:>13} | {method:>8} | {seconds:>8.2f} | {peak:>8.0f} | {shown}", flush=True)
        if "prdc" in results:
            gap = max(
                abs(ours[key] - theirs[key])
                for ours, theirs in zip(results["sc_synth"], results["prdc"], strict=True)
                for key in ours
            )
            print(f"{'':>13} | largest difference sc_synth - prdc over all runs: {gap:.1e}")


if __name__ == "__main__":
    main()
