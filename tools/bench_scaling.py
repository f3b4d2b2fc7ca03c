#!/usr/bin/python3
"""Measures what docs/scaling.md reports, on this machine, and writes the inputs of
tools/scaling_model.py.

    tools/bench_scaling.py [--build DIR] [--rounds R] [--models mlp_b128,lstm] [--epochs N] [--compare]

For each model, R rounds, each running back to back (interleaved, so a busy spell of a shared
machine hits all alike):
    1 rank x 2 threads:              unroll run experiments/bench/M.yaml --threads 2
    2 ranks x 1 thread, replicated:  mpirun -np 2 unroll run ... --threads 1
                                       --set train.distributed.shard_optimizer=false
    2 ranks x 1 thread, sharded:     the same with shard_optimizer=true (reduce-scatter, step on
                                       half the parameters, allgather)
and reports the median seconds per epoch of each (metrics.csv's seconds column: the training
pass alone, validation 0) with the range over rounds, and the ratios to 1x2 within each round,
then prints the table docs/scaling.md shows. Then the allreduce against the reduce-scatter +
allgather pair at each model's gradient size (unroll_bench_allreduce).

--compare stops there: the one command for the sharded vs replicated comparison, e.g.
    tools/bench_scaling.py --compare --rounds 5 --models mlp_b128 --epochs mlp_b128=3
Without it the script goes on to what tools/scaling_model.py needs:

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
import re
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
    """The model summary's "total parameters: 269,322 (1.0 MiB)" line of the run's log.txt."""
    with open(os.path.join(run_dir, "log.txt")) as f:
        for line in f:
            if m := re.search(r"total parameters: ([\d,]+)", line):
                return int(m.group(1).replace(",", ""))
    raise SystemExit(f"{run_dir}/log.txt has no 'total parameters:' line")


def run(build, yaml, out, ranks, threads, sets=()):
    cmd = [os.path.join(build, "bin", "unroll"), "run", yaml, "--quiet", "--threads", str(threads), "--out", out]
    for s in sets:
        cmd += ["--set", s]
    if ranks > 1:
        cmd = MPIRUN + ["-np", str(ranks)] + cmd
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return epoch_seconds(out)


def span(xs, fmt="{:.3f}"):
    """median (min-max) of a list, for the table."""
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def pair_costs(build, sizes):
    """Median microseconds of one allreduce and of one reduce-scatter + allgather, per size."""
    subprocess.run(["cmake", "--build", build, "--target", "unroll_bench_allreduce"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bench = os.path.join(build, "bin", "unroll_bench_allreduce")
    out = subprocess.run(MPIRUN + ["-np", "2", bench, "--sizes", ",".join(str(n) for n in sizes)], check=True,
                         capture_output=True, text=True).stdout
    return out, list(csv.DictReader(out.splitlines()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="mlp_b128,lstm")
    ap.add_argument("--epochs", default="mlp_b128=2,lstm=1")
    ap.add_argument("--out", help="where the CSV files go (default BUILD/scaling)")
    ap.add_argument("--compare", action="store_true",
                    help="only 1x2 vs 2x1 replicated vs 2x1 sharded, and the collectives' costs; print the table")
    args = ap.parse_args()
    epochs = dict(kv.split("=") for kv in args.epochs.split(","))
    data_dir = args.out or os.path.join(args.build, "scaling")
    os.makedirs(data_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="unroll-scaling-")
    measured, table, sizes = [], [], []
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    for m in args.models.split(","):
        yaml = os.path.join(ROOT, "experiments", "bench", MODELS[m])
        sets = [f"train.epochs={epochs.get(m, 1)}"]
        a, b, c, ratios, ratios_sharded = [], [], [], [], []
        for r in range(args.rounds):
            ta = statistics.median(run(args.build, yaml, f"{tmp}/{m}-1x2-{r}", 1, 2, sets))
            tb = statistics.median(run(args.build, yaml, f"{tmp}/{m}-2x1-{r}", 2, 1,
                                       sets + ["train.distributed.shard_optimizer=false"]))
            tc = statistics.median(run(args.build, yaml, f"{tmp}/{m}-2x1s-{r}", 2, 1,
                                       sets + ["train.distributed.shard_optimizer=true"]))
            a.append(ta)
            b.append(tb)
            c.append(tc)
            ratios.append(tb / ta)
            ratios_sharded.append(tc / ta)
            print(f"{m} round {r + 1}: 1x2 {ta:.3f} s/epoch, 2x1 replicated {tb:.3f} (ratio {tb / ta:.3f}), "
                  f"2x1 sharded {tc:.3f} (ratio {tc / ta:.3f})", flush=True)
        sizes.append(params_of(f"{tmp}/{m}-1x2-0") + 5)  # the gradients and the window's 5 numbers
        table.append(f"| {m} | {span(a)} | {span(b)} | {span(c)} | {span(ratios, '{:.2f}')} | "
                     f"{span(ratios_sharded, '{:.2f}')} |")
        if args.compare:
            continue
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
                         "epoch_s_2x1_sharded": f"{statistics.median(c):.4f}",
                         "ratio_2x1_over_1x2": f"{statistics.median(ratios):.3f}",
                         "ratio_min": f"{min(ratios):.3f}", "ratio_max": f"{max(ratios):.3f}"})
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    print(f"\n{args.rounds} interleaved rounds; median (range) of each run's median epoch; load average "
          f"{'/'.join(load_before)} before, {'/'.join(load_after)} after\n")
    print("| model | 1 rank × 2 threads s/epoch | 2 ranks × 1 thread, replicated | 2 ranks × 1 thread, sharded | "
          "ratio replicated / 1×2 | ratio sharded / 1×2 |")
    print("|---|---|---|---|---|---|")
    print("\n".join(table))
    _, costs = pair_costs(args.build, sizes)
    print("\n| gradient floats | allreduce µs (median) | reduce-scatter + allgather µs (median) | fastest: allreduce / pair |")
    print("|---:|---:|---:|---|")
    for row in costs:
        print(f"| {int(row['floats']):,} | {float(row['median_us']):.1f} | {float(row['rs_ag_median_us']):.1f} | "
              f"{float(row['min_us']):.1f} / {float(row['rs_ag_min_us']):.1f} |")
    if args.compare:
        return 0
    with open(os.path.join(data_dir, "scaling_measured.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(measured[0].keys()))
        w.writeheader()
        w.writerows(measured)
    out, _ = pair_costs(args.build, [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304])
    with open(os.path.join(data_dir, "allreduce_2ranks.csv"), "w") as f:
        f.write(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
