#!/usr/bin/python3
"""PyTorch twins of the unroll benchmark models (experiments/bench/*.yaml), for tools/bench.

    /usr/bin/python3 tools/bench_torch.py MODEL [--epochs N] [--threads N]

MODEL is mlp_b128, mlp_b32, elman, lstm, gru (torch.nn.RNN / nn.LSTM / nn.GRU) or elman_loop (a hand-written
Elman cell stepped in a Python loop). Prints one JSON line: {"model", "epoch_seconds": [...],
"peak_rss_mb", "train_loss"}. What is timed matches unroll's metrics.csv seconds column with
validation: 0: one pass over the 60,000 training images (shuffle, uint8 -> float per batch,
forward, backward, clipping, optimizer step), nothing else.

Same data (the Debian Fashion-MNIST IDX files, kept as uint8), same initialization scheme,
batch, optimizer and thread count as the YAML twins. tools/bench runs this with
LD_LIBRARY_PATH pointing at OpenBLAS's OpenMP variant so torch's BLAS does not fight its own
OpenMP threads.
"""
import argparse
import gzip
import json
import math
import resource
import sys
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def xavier_(w, fan_in, fan_out):
    a = math.sqrt(6.0 / (fan_in + fan_out))
    nn.init.uniform_(w, -a, a)


def he_(w, fan_in):
    a = math.sqrt(6.0 / fan_in)
    nn.init.uniform_(w, -a, a)


def mlp(sizes, hidden_init):
    """dense layers: he_uniform on hidden layers, xavier_uniform on the output, zero biases."""
    layers = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        if i + 2 < len(sizes):
            hidden_init(lin.weight, sizes[i])
        else:
            xavier_(lin.weight, sizes[i], sizes[i + 1])
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.ReLU()] if i + 2 < len(sizes) else [lin]
    return nn.Sequential(*layers)


class RecurrentClassifier(nn.Module):
    """nn.RNN / nn.GRU / nn.LSTM over 28 rows of 28 pixels, then dense(10) on the last hidden state."""

    def __init__(self, cell, H=128):
        super().__init__()
        self.rnn = {"elman": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell](28, H)
        g = {"elman": 1, "gru": 3, "lstm": 4}[cell]
        xavier_(self.rnn.weight_ih_l0, 28, H)  # unroll: fan_out = H for every gate block
        nn.init.orthogonal_(self.rnn.weight_hh_l0)
        nn.init.zeros_(self.rnn.bias_ih_l0)
        nn.init.zeros_(self.rnn.bias_hh_l0)
        if g == 4:
            with torch.no_grad():
                self.rnn.bias_ih_l0[H:2 * H] = 1.0  # unroll's forget_bias 1.0 (gate order i f g o)
        self.out = nn.Linear(H, 10)
        xavier_(self.out.weight, H, 10)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):  # x: T x B x 28
        h, _ = self.rnn(x)
        return self.out(h[-1])


class LoopElman(nn.Module):
    """h_t = tanh(W x_t + U h_{t-1} + b) written by hand, one Python iteration per step."""

    def __init__(self, H=128):
        super().__init__()
        self.W = nn.Parameter(torch.empty(H, 28))
        self.U = nn.Parameter(torch.empty(H, H))
        self.b = nn.Parameter(torch.zeros(H))
        xavier_(self.W, 28, H)
        nn.init.orthogonal_(self.U)
        self.out = nn.Linear(H, 10)
        xavier_(self.out.weight, H, 10)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        h = torch.zeros(x.shape[1], self.U.shape[0])
        for t in range(x.shape[0]):
            h = torch.tanh(x[t] @ self.W.t() + h @ self.U.t() + self.b)
        return self.out(h)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", choices=["mlp_b128", "mlp_b32", "elman", "gru", "lstm", "elman_loop"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    images = read_idx(f"{DATA}/train-images-idx3-ubyte.gz").reshape(60000, 784)  # uint8
    labels = torch.from_numpy(read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64))
    images = torch.from_numpy(images.copy())
    seq = args.model in ("elman", "gru", "lstm", "elman_loop")
    if args.model == "mlp_b128":
        net, batch = mlp([784, 256, 256, 10], he_), 128
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    elif args.model == "mlp_b32":
        net, batch = mlp([784, 100, 10], he_), 32
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    else:
        net = LoopElman() if args.model == "elman_loop" else RecurrentClassifier(args.model)
        batch = 128
        opt = torch.optim.Adam(net.parameters(), lr=0.002)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(1)

    secs, last_loss = [], float("nan")
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(60000, generator=gen)
        total, n = 0.0, 0
        # Like unroll, the last batch may be partial (60000 = 468 x 128 + 96).
        for i in range(0, 60000, batch):
            idx = order[i:i + batch]
            x = images[idx].float().div_(255.0)
            if seq:
                x = x.view(-1, 28, 28).transpose(0, 1)  # T x B x 28: one row per step
            loss = loss_fn(net(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if seq:
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            total += loss.item()
            n += 1
        secs.append(time.perf_counter() - t0)
        last_loss = total / n
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"model": args.model, "epoch_seconds": secs, "peak_rss_mb": rss, "train_loss": last_loss}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
