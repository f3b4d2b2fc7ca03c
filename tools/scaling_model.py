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

# Benchmark models, measured on this machine (docs/scaling.md): parameters P, updates per epoch U,
# windows per update W, one-rank epoch seconds with both cores (compute C + replicated R * U),
# and the replicated per-update seconds R (clip + optimizer step over P parameters; measured as
# the epoch time of the same model with batch 128 minus ... see docs/scaling.md).
MODELS = {
    # name: (P, U, W, epoch_s_1x2, replicated_s_per_update, global_batch)
    "mlp_b128": (269_322, 469, 1, None, None, 128),
    "lstm": (81_674, 469, 1, None, None, 128),
}


def ring(n, size, alpha, beta):
    return 0.0 if n == 1 else 2 * (n - 1) * alpha + 2 * (n - 1) / n * size * beta


def tree(n, alpha):
    return 0.0 if n == 1 else 2 * math.ceil(math.log2(n)) * alpha


def fit_alpha_beta(path):
    """Least squares of time = a + b * bytes over bench_allreduce's medians (2 ranks: the ring
    formula gives 2 alpha + bytes * beta, so alpha = a / 2, beta = b)."""
    xs, ys = [], []
    with open(path) as f:
        for row in csv.DictReader(f):
            xs.append(float(row["bytes"]))
            ys.append(float(row["median_us"]) * 1e-6)
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    a = my - b * mx
    return max(a, 0.0) / 2, b


def epoch_time(model, n, alpha, beta):
    P, U, W, t1, rep, batch = model
    compute = t1 - U * rep
    return compute / n + U * rep + U * ring(n, 4 * P, alpha, beta) + U * W * tree(n, alpha)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--allreduce", default=os.path.join(ROOT, "docs", "data", "allreduce_2ranks.csv"),
                    help="bench_allreduce CSV measured here (2 ranks, shared memory)")
    ap.add_argument("--measured", default=os.path.join(ROOT, "docs", "data", "scaling_measured.csv"),
                    help="model,params,updates,windows,epoch_s_1x2,replicated_s_per_update,batch")
    ap.add_argument("--nodes", default="1,2,4,8,16,32,64")
    args = ap.parse_args()

    models = {}
    with open(args.measured) as f:
        for row in csv.DictReader(f):
            models[row["model"]] = (int(row["params"]), int(row["updates"]), int(row["windows"]),
                                    float(row["epoch_s_1x2"]), float(row["replicated_s_per_update"]),
                                    int(row["batch"]))
    alpha_sm, beta_sm = fit_alpha_beta(args.allreduce)
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


if __name__ == "__main__":
    sys.exit(main())
