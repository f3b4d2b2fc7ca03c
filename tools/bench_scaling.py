#!/usr/bin/python3
"""Measures what docs/scaling.md reports, on this machine, and writes the inputs of
tools/scaling_model.py.

    tools/bench_scaling.py [--build DIR] [--rounds R] [--models mlp_b128,lstm] [--epochs N]

For each model, R rounds, each running back to back (interleaved, so a busy spell of a shared
machine hits both alike):
    1 rank x 2 threads:  unroll run experiments/bench/M.yaml --threads 2
    2 ranks x 1 thread:  mpirun -np 2 unroll run experiments/bench/M.yaml --threads 1
and reports the median seconds per epoch of each (metrics.csv's seconds column: the training
pass alone, validation 0) with the range over rounds, and their ratio within each round.

Also each model's replicated per-update cost R (the work every rank repeats whatever N: clip,
optimizer step over all parameters, batch assembly), from two short one-thread runs at batch 8
and 16 on 6,000 samples: t(b) = U(b) (R + b c) + E with U(b) = 6000 / b, so
R = (t8 - t16) / (U8 - U16). Then the allreduce time at every size (mpirun -np 2 unroll_bench_allreduce).

Writes OUT/scaling_measured.csv and OUT/allreduce_2ranks.csv (default OUT: BUILD/scaling), the
inputs of tools/scaling_model.py --measured/--allreduce.
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# No --oversubscribe: with as many ranks as cores Open MPI polls instead of yielding the core.
MPIRUN = ["mpirun", "--allow-run-as-root", "--bind-to", "none"]
MODELS = {"mlp_b128": "mlp_b128.yaml", "lstm": "lstm.yaml"}


def epoch_seconds(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    return [float(r["seconds"]) for r in rows]


def params_of(run_dir):
    with open(os.path.join(run_dir, "log.txt")) as f:
        for line in f:
            if "total:" in line and "parameters" in line:
                return int(line.split("total:")[1].split()[0])
    return 0


def run(build, yaml, out, ranks, threads, sets=()):
    cmd = [os.path.join(build, "bin", "unroll"), "run", yaml, "--quiet", "--threads", str(threads), "--out", out]
    for s in sets:
        cmd += ["--set", s]
    if ranks > 1:
        cmd = MPIRUN + ["-np", str(ranks)] + cmd
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return epoch_seconds(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="mlp_b128,lstm")
    ap.add_argument("--epochs", default="mlp_b128=2,lstm=1")
    ap.add_argument("--out", help="where the CSV files go (default BUILD/scaling)")
    args = ap.parse_args()
    epochs = dict(kv.split("=") for kv in args.epochs.split(","))
    data_dir = args.out or os.path.join(args.build, "scaling")
    os.makedirs(data_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="unroll-scaling-")
    measured = []
    for m in args.models.split(","):
        yaml = os.path.join(ROOT, "experiments", "bench", MODELS[m])
        sets = [f"train.epochs={epochs.get(m, 1)}"]
        a, b, ratios = [], [], []
        for r in range(args.rounds):
            ta = statistics.median(run(args.build, yaml, f"{tmp}/{m}-1x2-{r}", 1, 2, sets))
            tb = statistics.median(run(args.build, yaml, f"{tmp}/{m}-2x1-{r}", 2, 1, sets))
            a.append(ta)
            b.append(tb)
            ratios.append(tb / ta)
            print(f"{m} round {r + 1}: 1x2 {ta:.3f} s/epoch, 2x1 {tb:.3f} s/epoch, ratio {tb / ta:.3f}", flush=True)
        print(f"{m}: 1 rank x 2 threads {statistics.median(a):.3f} s/epoch [{min(a):.3f}, {max(a):.3f}]; "
              f"2 ranks x 1 thread {statistics.median(b):.3f} [{min(b):.3f}, {max(b):.3f}]; "
              f"ratio {statistics.median(ratios):.3f} [{min(ratios):.3f}, {max(ratios):.3f}]", flush=True)
        # Replicated per-update cost: 6,000 training samples at batch 8 and 16, one thread.
        small = [f"data.validation=54000", "train.epochs=1"]
        t8 = statistics.median(run(args.build, yaml, f"{tmp}/{m}-b8", 1, 1, small + ["train.batch=8"]))
        t16 = statistics.median(run(args.build, yaml, f"{tmp}/{m}-b16", 1, 1, small + ["train.batch=16"]))
        u8, u16 = 6000 / 8, 6000 / 16
        # t(b) = U(b) (R + b c) + E, E the validation pass of both runs; U(b) b = 6000 for both, so
        # t8 - t16 = (U8 - U16) R. R also absorbs the products' lower efficiency at 8 columns than
        # at 16, so it is an upper estimate.
        rep = max(0.0, (t8 - t16) / (u8 - u16))
        print(f"{m}: replicated per-update work ~{rep * 1e3:.3f} ms (batch 8: {t8:.2f} s, batch 16: {t16:.2f} s "
              f"for 6000 samples)", flush=True)
        measured.append({"model": m, "params": params_of(f"{tmp}/{m}-1x2-0"), "updates": 469, "windows": 1,
                         "epoch_s_1x2": f"{statistics.median(a):.4f}", "replicated_s_per_update": f"{rep:.6f}",
                         "batch": 128, "epoch_s_2x1": f"{statistics.median(b):.4f}",
                         "ratio_2x1_over_1x2": f"{statistics.median(ratios):.3f}",
                         "ratio_min": f"{min(ratios):.3f}", "ratio_max": f"{max(ratios):.3f}"})
    with open(os.path.join(data_dir, "scaling_measured.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(measured[0].keys()))
        w.writeheader()
        w.writerows(measured)
    bench = os.path.join(args.build, "bin", "unroll_bench_allreduce")
    subprocess.run(["cmake", "--build", args.build, "--target", "unroll_bench_allreduce"], check=True,
                   stdout=subprocess.DEVNULL)
    out = subprocess.run(MPIRUN + ["-np", "2", bench], check=True, capture_output=True, text=True).stdout
    with open(os.path.join(data_dir, "allreduce_2ranks.csv"), "w") as f:
        f.write(out)
    print(out)


if __name__ == "__main__":
    sys.exit(main())
