#!/usr/bin/env python3
"""Plots of one or more unroll run folders (called by `unroll plot` and at the end of
`unroll run`; runnable by hand):

    python3 tools/plot_run.py OUT_DIR RUN_DIR [RUN_DIR ...]

writes OUT_DIR/curves.png: the learning curves of every run overlaid, one panel per quantity
(loss, accuracy, bits per character, learning rate) with train solid and validation dashed; and,
for each run with train.diagnostics.grad_lags, OUT_DIR/grad_lags-RUN.png: the heatmap of
||dL/dh|| by time lag (x) and epoch (y) on a log colour scale, one panel per recurrent layer —
the picture of vanishing (fading to the right) and exploding (growing to the right) gradients.
Needs matplotlib (Debian: python3-matplotlib, installed by tools/setup)."""
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def number(text):
    try:
        v = float(text)
    except (TypeError, ValueError):
        return math.nan
    return v


def label_of(run_dir):
    return os.path.basename(os.path.normpath(run_dir))


def plot_curves(runs, out):
    panels = [("loss", "train_loss", "val_loss"), ("accuracy", "train_accuracy", "val_accuracy"),
              ("bits per character", "train_bpc", "val_bpc"), ("learning rate", "lr", None)]
    present = [p for p in panels if any(p[1] in rows[0] for _, rows in runs if rows)]
    fig, axes = plt.subplots(1, len(present), figsize=(4.5 * len(present), 3.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (title, train_col, val_col) in zip(axes[0], present):
        for i, (name, rows) in enumerate(runs):
            if not rows or train_col not in rows[0]:
                continue
            epochs = [number(r["epoch"]) for r in rows]
            colour = colours[i % len(colours)]
            ax.plot(epochs, [number(r[train_col]) for r in rows], color=colour, label=name + " train")
            if val_col and val_col in rows[0]:
                ax.plot(epochs, [number(r[val_col]) for r in rows], color=colour, linestyle="--",
                        label=name + " val")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if title == "learning rate":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_grad_lags(name, rows, out):
    layers = sorted({r["layer"] for r in rows})
    fig, axes = plt.subplots(1, len(layers), figsize=(5.5 * len(layers), 3.8), squeeze=False)
    for ax, layer in zip(axes[0], layers):
        cells = [r for r in rows if r["layer"] == layer]
        epochs = sorted({int(r["epoch"]) for r in cells})
        lags = sorted({int(r["lag"]) for r in cells})
        grid = [[math.nan] * len(lags) for _ in epochs]
        for r in cells:
            v = number(r["grad_norm"])
            grid[epochs.index(int(r["epoch"]))][lags.index(int(r["lag"]))] = v if v > 0 else math.nan
        positive = [v for row in grid for v in row if v == v]
        norm = LogNorm(vmin=min(positive), vmax=max(positive)) if positive else None
        image = ax.imshow(grid, aspect="auto", origin="lower", norm=norm, cmap="viridis",
                          extent=(lags[0] - 0.5, lags[-1] + 0.5, epochs[0] - 0.5, epochs[-1] + 0.5))
        fig.colorbar(image, ax=ax, label="||dL/dh|| (log scale)")
        ax.set_title(name + ": " + layer)
        ax.set_xlabel("time lag (steps back from the loss)")
        ax.set_ylabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: plot_run.py OUT_DIR RUN_DIR [RUN_DIR ...]")
    out_dir, run_dirs = argv[1], argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    runs = []
    for d in run_dirs:
        path = os.path.join(d, "metrics.csv")
        if not os.path.exists(path):
            sys.exit(d + ": not a run folder (no metrics.csv)")
        runs.append((label_of(d), read_csv(path)))
    written = []
    curves = os.path.join(out_dir, "curves.png")
    plot_curves(runs, curves + ".tmp.png")
    os.replace(curves + ".tmp.png", curves)
    written.append(curves)
    for d in run_dirs:
        lags = os.path.join(d, "grad_lags.csv")
        if os.path.exists(lags):
            rows = read_csv(lags)
            if rows:
                out = os.path.join(out_dir, "grad_lags-" + label_of(d) + ".png")
                plot_grad_lags(label_of(d), rows, out + ".tmp.png")
                os.replace(out + ".tmp.png", out)
                written.append(out)
    print("\n".join(written))


if __name__ == "__main__":
    main(sys.argv)
