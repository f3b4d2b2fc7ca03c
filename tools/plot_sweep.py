#!/usr/bin/env python3
"""Plots of an unroll sweep folder (called by `unroll report`; runnable by hand):

    python3 tools/plot_sweep.py SWEEP_DIR

writes SWEEP_DIR/plots/curves.png (learning curves per variant: mean over seeds, band +- sd)
and SWEEP_DIR/plots/bars.png (the main metric per variant, error bars +- sd over seeds).
Needs matplotlib (Debian: python3-matplotlib, installed by tools/setup)."""
import csv
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows


def mean_sd(values):
    n = len(values)
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return m, sd


def curve_columns(main, header):
    """The per-epoch columns worth plotting: the training loss and the validation (or training)
    counterpart of the main metric."""
    cols = ["train_loss"] if "train_loss" in header else []
    stem = main.split("_", 1)[1] if "_" in main else main
    for c in (main, "val_" + stem, "train_" + stem):
        if c in header and c not in cols:
            cols.append(c)
            break
    return cols


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_sweep.py SWEEP_DIR")
    root = sys.argv[1]
    man = json.load(open(os.path.join(root, "sweep.json")))
    metric = man["metric"]["name"]
    out = os.path.join(root, "plots")
    os.makedirs(out, exist_ok=True)

    curves = {}  # variant -> list of runs (each a list of row dicts)
    header = []
    for v in man["variants"]:
        runs = []
        for s in man["seeds"]:
            p = os.path.join(root, "runs", v["dir"], "seed%d" % s, "metrics.csv")
            if os.path.exists(p):
                rows = read_metrics(p)
                if rows:
                    runs.append(rows)
                    header = header or list(rows[0].keys())
        curves[v["name"]] = runs

    cols = curve_columns(metric, header)
    if cols:
        fig, axes = plt.subplots(1, len(cols), figsize=(6 * len(cols), 4.2), squeeze=False)
        for ax, col in zip(axes[0], cols):
            for name, runs in curves.items():
                if not runs:
                    continue
                epochs = min(len(r) for r in runs)
                xs, ms, lo, hi = [], [], [], []
                for e in range(epochs):
                    vals = [float(r[e][col]) for r in runs if r[e].get(col) not in (None, "", "nan")]
                    if not vals:
                        continue
                    m, sd = mean_sd(vals)
                    xs.append(int(float(runs[0][e]["epoch"])))
                    ms.append(m)
                    lo.append(m - sd)
                    hi.append(m + sd)
                line, = ax.plot(xs, ms, label=name)
                ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2)
            ax.set_xlabel("epoch")
            ax.set_ylabel(col)
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(man.get("name", "sweep") + ": learning curves (mean ± sd over seeds)")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "curves.png"), dpi=110)
        plt.close(fig)

    # Bars from report.csv (same order as the table: best first).
    rep = os.path.join(root, "report.csv")
    if os.path.exists(rep):
        rows = [r for r in csv.DictReader(open(rep, newline="")) if r["metric"] == metric and r["mean"]]
        if rows:
            fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(rows) + 2), 4.5))
            names = [r["variant"] for r in rows]
            means = [float(r["mean"]) for r in rows]
            sds = [float(r["sd"]) if r["sd"] else 0.0 for r in rows]
            colors = ["tab:gray" if r["diff"] == "" else "tab:blue" for r in rows]  # gray: the base
            ax.bar(range(len(rows)), means, yerr=sds, capsize=4, color=colors)
            ax.set_xticks(range(len(rows)))
            ax.set_xticklabels(names, rotation=40, ha="right", fontsize=8)
            ax.set_ylabel(metric)
            lo = min(m - s for m, s in zip(means, sds))
            hi = max(m + s for m, s in zip(means, sds))
            pad = 0.15 * (hi - lo if hi > lo else abs(hi) + 1e-9)
            ax.set_ylim(lo - pad, hi + pad)
            ax.set_title("%s (%s is better; error bars ± sd)" % (metric, "higher" if man["metric"]["higher_is_better"] else "lower"))
            ax.grid(axis="y", alpha=0.3)
            fig.tight_layout()
            fig.savefig(os.path.join(out, "bars.png"), dpi=110)
            plt.close(fig)


if __name__ == "__main__":
    main()
