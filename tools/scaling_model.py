#!/usr/bin/python3
"""Predicted data-parallel scaling of the benchmark models on larger clusters (docs/scaling.md).

    tools/scaling_model.py [--allreduce CSV] [--markdown]

A model, not a measurement. One epoch of N nodes (one rank per node, every core of the node in
the rank's thread pool) costs

    t(N) = C / N                          the forward/backward work, split by sample
         + U * R                          the per-update work every rank repeats (clip, optimizer
                                          step over all P parameters): it does not shrink with N
         + U * ring(N, 4 P)               one allreduce of the gradients per update
         + U * W * tree(N)                one tiny allreduce per window (loss, counts, stop flag)

with U updates per epoch and W loss windows per update (1 unless truncated BPTT). A ring
allreduce of S bytes over N nodes takes ring(N, S) = 2 (N-1) alpha + 2 (N-1)/N S beta (a
reduce-scatter and an allgather, each N-1 steps of S/N bytes); a tiny one takes
tree(N) = 2 ceil(log2 N) alpha. C and R come from this machine's measurements (one rank, both
cores); alpha and beta from the fit to bench_allreduce (shared memory) and from published figures
for networks (below). The model is optimistic about C / N: a rank's slice of a 128-sample batch
shrinks with N, and matrix products on 2 or 4 columns run far below peak; the tables mark where
the slice is under 8 samples.

Efficiency = t(1) / (N t(N)). A sweep has many independent runs; on M nodes, running M runs of
one node each keeps efficiency 1. Spreading one run over N nodes only pays for the turnaround of
that run; once efficiency falls under 1/2, the same N nodes finish more runs per hour as N
separate sweep tasks than the N-node run gains in speed, and past N_fastest adding nodes even
slows the run down.
"""
import argparse
import csv
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Published point-to-point figures, one MPI message between two nodes (alpha: latency; beta:
# seconds per byte at the link's usable bandwidth, about 90% of the line rate after framing).
#   10 GbE, TCP:        ~25 us MPI latency through the kernel stack; 1.25 GB/s line rate.
#   25 GbE, TCP:        ~15 us; 3.1 GB/s line rate.
#   100 GbE, RoCE v2:   ~3 us (RDMA, no kernel); 12.5 GB/s line rate.
#   InfiniBand HDR 200: ~1.5 us (OSU latency benchmarks on ConnectX-6); 25 GB/s line rate.
NETWORKS = {
    "10GbE": (25e-6, 1 / (0.9 * 1.25e9)),
    "25GbE": (15e-6, 1 / (0.9 * 3.125e9)),
    "100GbE RoCE": (3e-6, 1 / (0.9 * 12.5e9)),
    "IB HDR200": (1.5e-6, 1 / (0.9 * 25e9)),
}

# The benchmark models on this machine (2 cores; docs/scaling.md says where each figure comes
# from). P parameters, U updates per epoch (60,000 samples, batch 128), W loss windows per
# update, t(1): s/epoch with one rank and both cores, quiet (the "gradient sum in place"
# measurement of docs/scaling.md: MLP 0.413-0.419, LSTM 3.91-4.09), R: the replicated per-update
# work (the gradient norm, zeroing and the optimizer step over all P parameters: 12% of a rank's
# profile of the ~1.07 ms MLP update, ~0.13 ms; scaled by P for the LSTM).
MEASURED = {
    # name: (P, U, W, epoch_s_1rank, replicated_s_per_update, global_batch)
    "mlp_b128": (269_322, 469, 1, 0.413, 130e-6, 128),
    "lstm": (81_674, 469, 1, 3.94, 40e-6, 128),
}

# 2 ranks in shared memory, bench_allreduce's fastest call per size (the machine was shared; the
# median was dominated by preemption): floats -> microseconds.
ALLREDUCE_2RANKS = {256: 1.24, 1024: 2.87, 4096: 9.55, 16384: 20.95, 65536: 44.91, 262144: 166.56,
                    1048576: 683.76}


def ring(n, size, alpha, beta):
    return 0.0 if n == 1 else 2 * (n - 1) * alpha + 2 * (n - 1) / n * size * beta


def tree(n, alpha):
    return 0.0 if n == 1 else 2 * math.ceil(math.log2(n)) * alpha


def fit_alpha_beta(points):
    """Least squares of time = a + b * bytes over (bytes, seconds) points of 2 ranks, where the
    ring formula gives 2 alpha + bytes * beta: alpha = a / 2, beta = b."""
    xs, ys = zip(*points)
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    a = my - b * mx
    return max(a, 0.0) / 2, b


def read_allreduce(path):
    """bench_allreduce's CSV: (bytes, seconds) from its min_us column."""
    with open(path) as f:
        return [(float(r["bytes"]), float(r["min_us"]) * 1e-6) for r in csv.DictReader(f)]


def epoch_time(model, n, alpha, beta):
    P, U, W, t1, rep, batch = model
    compute = t1 - U * rep
    return compute / n + U * rep + U * ring(n, 4 * P, alpha, beta) + U * W * tree(n, alpha)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--allreduce", help="a bench_allreduce CSV (2 ranks) instead of the figures above")
    ap.add_argument("--measured", help="tools/bench_scaling.py's scaling_measured.csv instead of the figures above")
    ap.add_argument("--nodes", default="1,2,4,8,16,32,64")
    args = ap.parse_args()

    models = dict(MEASURED)
    if args.measured:
        with open(args.measured) as f:
            for row in csv.DictReader(f):
                models[row["model"]] = (int(row["params"]), int(row["updates"]), int(row["windows"]),
                                        float(row["epoch_s_1x2"]), float(row["replicated_s_per_update"]),
                                        int(row["batch"]))
    points = read_allreduce(args.allreduce) if args.allreduce else \
        [(4.0 * n, us * 1e-6) for n, us in ALLREDUCE_2RANKS.items()]
    alpha_sm, beta_sm = fit_alpha_beta(points)
    networks = {"shared memory (fit here)": (alpha_sm, beta_sm)}
    networks.update(NETWORKS)
    nodes = [int(x) for x in args.nodes.split(",")]

    print("| network | alpha (us) | beta (ns/byte) | GB/s |")
    print("|---|---:|---:|---:|")
    for name, (a, b) in networks.items():
        print(f"| {name} | {a * 1e6:.2f} | {b * 1e9:.3f} | {1 / b / 1e9:.1f} |")
    print()
    for mname, m in models.items():
        P, U, W, t1, rep, batch = m
        print(f"### {mname}: P = {P:,} parameters ({4 * P / 1e6:.2f} MB of gradients), {U} updates/epoch, "
              f"t(1) = {t1:.2f} s/epoch, replicated {rep * 1e3:.3f} ms/update")
        print()
        print("| network | " + " | ".join(f"N={n}" for n in nodes) + " | N fastest | largest N with eff >= 0.5 |")
        print("|---|" + "---:|" * len(nodes) + "---:|---:|")
        for name, (a, b) in NETWORKS.items():
            cells, best_n, best_t, half = [], 1, None, 1
            for n in nodes:
                t = epoch_time(m, n, a, b)
                eff = t1 / (n * t)
                small = "*" if batch / n < 8 else ""
                cells.append(f"{t:.3f} s ({eff:.0%}){small}")
                if best_t is None or t < best_t:
                    best_n, best_t = n, t
                if eff >= 0.5:
                    half = n
            print(f"| {name} | " + " | ".join(cells) + f" | {best_n} | {half} |")
        print()
    print("(s/epoch (efficiency); * marks a per-rank slice under 8 samples, where the model is optimistic)")
    print()
    print("This machine, 2 ranks x 1 thread against 1 rank x 2 threads (shared memory; each rank's one core does")
    print("what two threads did for the whole batch; added: the allreduces, and the replicated work on one thread")
    print("instead of two):")
    print()
    print("| model | 1x2 s/epoch | 2x1 predicted s/epoch | ratio | allreduce per update (us) |")
    print("|---|---:|---:|---:|---:|")
    for mname, (P, U, W, t1, rep, batch) in models.items():
        ar = ring(2, 4 * P, alpha_sm, beta_sm)
        # The replicated work runs on 2 threads in 1x2 and on 1 in 2x1: half of it is added.
        t2 = t1 + U * (ar + rep / 2 + W * tree(2, alpha_sm))
        print(f"| {mname} | {t1:.3f} | {t2:.3f} | {t2 / t1:.2f} | {ar * 1e6:.0f} |")


if __name__ == "__main__":
    sys.exit(main())
