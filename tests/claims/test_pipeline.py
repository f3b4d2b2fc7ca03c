#!/usr/bin/python3
"""ctest claims_pipeline: tools/claims --ci end to end, so the memory study's pipeline cannot rot.

Runs the test-sized setting (2 lags, 1 seed, 3 epochs, 8 units) into a fresh folder and checks
what it produced, not its numbers: every cell x BPTT setting has a row in each task's horizon
table with a score for every lag; every cell got an lr from the CI grid; the figures are PNG
files under 200 KB; the gradient reaching h_{t-k} at initialization falls with k for both tanh
Elman cells (adding task, loss at the last step only); a second invocation resumes: it runs
nothing again and writes the same tables; a second folder with --adopt-from the first trains
nothing; --prepare (the cluster route) runs nothing and lists what is left to submit; and
--full-bptt takes its stage 1 from the full study's folder.

  tests/claims/test_pipeline.py BUILD/bin/unroll WORK_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CELLS = ["elman_tanh_orth", "elman_tanh_gauss", "irnn", "lstm", "gru"]
CI_BPTT, CI_LRS = ["full", "k5"], {0.003, 0.01}
SCANS = {"delayed_recall": ["5", "10"], "copy": ["0", "10"], "adding": ["10", "20"]}
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAILED: " + what, file=sys.stderr)


def summaries(out):
    found = {}
    for dirpath, _, files in os.walk(out):
        if "summary.json" in files:
            p = os.path.join(dirpath, "summary.json")
            found[p] = os.stat(p).st_mtime_ns
    return found


def main():
    unroll, work = sys.argv[1], sys.argv[2]
    out = os.path.join(work, "claims-ci")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [os.path.join(ROOT, "tools", "claims"), "--ci", "--out", out, "-j", "2", "--unroll", unroll]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)} exited with {r.returncode}:\n{r.stdout[-4000:]}")
    results = open(os.path.join(out, "results.md")).read()

    for task, lags in SCANS.items():
        section = results.split(f"## {task}\n", 1)[1].split("\n## ", 1)[0]
        picks = json.load(open(os.path.join(out, f"{task}_lr.json")))
        check(sorted(picks) == sorted(CELLS), f"{task}: an lr for every cell, got {sorted(picks)}")
        check(all(v in CI_LRS for v in picks.values()), f"{task}: lrs from the CI grid, got {picks}")
        for cell in CELLS:
            for b in CI_BPTT:
                row = re.search(rf"^\| {cell} \| {b} \| ([^|]+)\|([^|]+)\|(.*)\|$", section, re.M)
                check(row is not None, f"{task}: a horizon row for {cell} / {b}")
                if row:
                    scores = re.findall(r"(-?\d+\.\d+) ± (\d+\.\d+)", row.group(3))
                    check(len(scores) == len(lags), f"{task} {cell} {b}: a score for each of {lags}: {row.group(0)}")
                    check(all(float(m) <= 1.0 for m, _ in scores), f"{task} {cell} {b}: scores <= 1: {row.group(0)}")
        for fig in ("grad_lags", "clip_rate", "score_by_lag"):
            p = os.path.join(out, "figures", f"{task}_{fig}.png")
            ok = os.path.exists(p)
            check(ok, f"{p} exists")
            if ok:
                check(open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n", f"{p} is a PNG")
                check(os.path.getsize(p) < 200_000, f"{p} is under 200 KB")
        check("Clipping at" in section, f"{task}: the clip-rate table")

    # The vanishing gradient at initialization, read from the runs the figure was drawn from.
    man = json.load(open(os.path.join(out, "adding_horizon", "sweep.json")))
    for cell in ("elman_tanh_orth", "elman_tanh_gauss"):
        names = [v for v in man["variants"] if v["name"] == f"cell={cell},bptt=full,length=20"]
        if cell == "elman_tanh_orth" and not names:  # the base: the first cell's first combination?
            names = [v for v in man["variants"] if v["name"] == "base"]
        check(len(names) == 1, f"adding: the run of {cell}, full BPTT, length 20")
        if not names:
            continue
        lags = os.path.join(out, "adding_horizon", "runs", names[0]["dir"], "seed1", "grad_lags.csv")
        rows = [l.split(",") for l in open(lags).read().split("\n")[1:] if l.startswith("0,0,")]
        norms = [float(x[3]) for x in sorted(rows, key=lambda x: int(x[2]))]
        check(len(norms) == 20, f"{lags}: epoch-0 norms at lags 0..19, got {len(norms)}")
        # Strictly falling, until it underflows to 0 (the small-Gaussian net's does within 20 steps).
        check(norms[0] > 0 and all(b < a or a == b == 0 for a, b in zip(norms, norms[1:])),
              f"{cell}: ||dL/dh_(t-k)|| falls with k at init: {norms}")

    # Resuming: nothing runs again, the tables come out the same.
    before = summaries(out)
    check(len(before) > 0, "run folders with summary.json")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 0, f"the second invocation exits 0: {r.stdout[-2000:]}")
    check(summaries(out) == before, "the second invocation reruns nothing")
    strip = lambda t: re.sub(r"\(report written.*\)", "", re.sub(r"\d+ runs, [\d.]+ CPU-hours", "", t))
    check(strip(open(os.path.join(out, "results.md")).read()) == strip(results), "the same tables after resuming")

    # --adopt-from: a second study folder takes the first one's completed runs (the full study and
    # --full-bptt do this with each other) and trains nothing: the same run folders, untouched.
    adopted = os.path.join(work, "claims-ci-adopted")
    shutil.rmtree(adopted, ignore_errors=True)
    r = subprocess.run(cmd[:3] + [adopted] + cmd[4:] + ["--adopt-from", out],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rel = lambda found, root: {os.path.relpath(p, root): t for p, t in found.items()}
    check(r.returncode == 0 and "finished runs of the same configuration" in r.stdout,
          f"--adopt-from exits 0 and says what it took: {r.stdout[-2000:]}")
    check(rel(summaries(adopted), adopted) == rel(before, out), "--adopt-from takes every run and reruns none")
    check(strip(open(os.path.join(adopted, "results.md")).read()) == strip(results), "the same tables from adopted runs")
    shutil.rmtree(adopted, ignore_errors=True)

    # --prepare (the cluster route) runs nothing: on the finished folder there is nothing left to
    # submit and the stage files come out the same; on a fresh one, stage 1 of each task is to submit.
    stage_files = {f: open(os.path.join(out, f)).read() for f in os.listdir(out) if f.endswith(".yaml")}
    prep = [os.path.join(ROOT, "tools", "claims"), "--ci", "--prepare", "--unroll", unroll]
    r = subprocess.run(prep + ["--out", out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 0 and "every stage has run" in r.stdout, f"--prepare on the finished study: {r.stdout}")
    check({f: open(os.path.join(out, f)).read() for f in stage_files} == stage_files, "--prepare rewrites the same files")
    check(summaries(out) == before, "--prepare runs nothing")
    fresh = os.path.join(work, "claims-ci-prepare")
    shutil.rmtree(fresh, ignore_errors=True)
    r = subprocess.run(prep + ["--out", fresh], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = r.stdout.strip().split("\n")
    check(r.returncode == 0 and len(lines) == 3 and all(l.endswith("--slurm") and "_lr.yaml" in l for l in lines),
          f"--prepare on a fresh folder lists the three stage-1 sweeps: {r.stdout}")
    shutil.rmtree(fresh, ignore_errors=True)

    # --full-bptt shares the full study's stage 1: on a fresh parent folder it lists the three
    # stage-1 sweeps of the sibling claims-full, whose stage files are the full setting's own.
    parent = os.path.join(work, "claims-share")
    shutil.rmtree(parent, ignore_errors=True)
    prep_full = [os.path.join(ROOT, "tools", "claims"), "--prepare", "--unroll", unroll]
    r = subprocess.run(prep_full[:1] + ["--full-bptt"] + prep_full[1:] + ["--out", os.path.join(parent, "claims-full-bptt")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = r.stdout.strip().split("\n")
    shared = os.path.join(parent, "claims-full")
    check(r.returncode == 0 and len(lines) == 3 and all(f"--out {shared}/" in l and "_lr --slurm" in l for l in lines),
          f"--full-bptt --prepare lists the full study's stage-1 sweeps: {r.stdout}")
    written = {f: open(os.path.join(shared, f)).read() for f in sorted(os.listdir(shared)) if f.endswith(".yaml")}
    r = subprocess.run(prep_full + ["--out", shared], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 0 and len(written) == 3 and
          {f: open(os.path.join(shared, f)).read() for f in written} == written,
          f"--full-bptt wrote the full setting's stage-1 files: {sorted(written)}")
    shutil.rmtree(parent, ignore_errors=True)

    # A generated stage file reproduces its stage on its own.
    r = subprocess.run([unroll, "sweep", os.path.join(out, "copy_horizon.yaml"), "--check"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 0, f"unroll sweep OUT/copy_horizon.yaml --check: {r.stdout[-2000:]}")

    if failures:
        sys.exit(f"{len(failures)} check(s) failed")
    shutil.rmtree(out, ignore_errors=True)
    print("claims pipeline: all checks passed")


if __name__ == "__main__":
    main()
