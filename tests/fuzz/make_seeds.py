#!/usr/bin/env python3
"""Writes the committed seed inputs of the fuzzers (tests/fuzz/corpus/TARGET/): the bad inputs of
issue 13 (items 2, 5, 6, 8) that the tests check, plus small valid files, so each fuzzer starts
from both sides of every check. Re-run after changing it; the files are small and committed."""
import gzip
import io
import json
import os
import struct
import zipfile

here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


BASE = """name: seed
data: {kind: blobs, classes: 3, samples: 20}
model:
  - {kind: dense, units: 8}
  - {kind: relu}
  - {kind: dense, units: 3}
optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 1, batch: 16}
"""

# ---- loader: YAML files
put("loader", "valid.yaml", BASE)
put("loader", "self_alias.yaml", "model: &a [*a]\n")
put("loader", "self_alias_map.yaml", "data: &d {kind: blobs, x: *d}\n")
bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    "a%d: &a%d [%s]\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10)) for i in range(1, 10))
put("loader", "alias_bomb.yaml", bomb)
put("loader", "alias_bomb_unknown_key.yaml", BASE + "unknown:\n" + "".join("  " + l + "\n" for l in bomb.splitlines()))
put("loader", "deep_flow.yaml", "model: " + "[" * 3000 + "]" * 3000 + "\n")
put("loader", "deep_block.yaml", "model:\n" + "".join(" " * (2 * i + 2) + "k%d:\n" % i for i in range(100)))
put("loader", "merge_key.yaml", "base: &b {kind: sgd}\noptimizer:\n  <<: *b\n  lr: 0.1\n")
put("loader", "units_2e32.yaml", BASE.replace("units: 8", "units: 4294967300"))
put("loader", "units_2e31.yaml", BASE.replace("units: 8", "units: 2147483648"))
put("loader", "batch_1e12.yaml", BASE.replace("batch: 16", "batch: 1e12"))
put("loader", "name_path.yaml", BASE.replace("name: seed", "name: ../../x"))
put("loader", "threads.yaml", BASE.replace("batch: 16}", "batch: 16, threads: 100000}"))
put("loader", "duplicate_key.yaml", BASE + "train: {epochs: 2}\n")
put("loader", "extends_missing.yaml", "extends: nowhere.yaml\n" + BASE)
put("loader", "path_keys.yaml", BASE + "model[1]: null\noptimizer.lr: 0.5\nmodel[99999999999999999999]: 1\n")
put("loader", "tags_anchors.yaml", "x: &v !!str 5\n" + BASE + "seed: *v\n")

# ---- set: one PATH=VALUE per line, applied to a fixed experiment
put("set", "batch_2e32", "train.batch=4294967297\n")
put("set", "index_huge", "model[99999999999999999999]=1\n")
put("set", "self_alias", "model=&a [*a]\n")
put("set", "units_2e31", "model[0].units=2147483648\n")
put("set", "name_path", "name=../../x\n")
put("set", "threads", "train.threads=100000\n")
put("set", "several", "optimizer.lr=0.1\nmodel[2]=null\nmodel[1]={kind: gru, units: 5}\ntrain.bptt.k1=3\n")
put("set", "merge", "optimizer={<<: {kind: sgd}}\n")


# ---- idx: IDX files, plain and gzip
def idx(magic, dims, data):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


images = idx(0x803, [2, 3, 4], range(24))
labels = idx(0x801, [2], [0, 1])
put("idx", "images", images)
put("idx", "labels", labels)
put("idx", "images.gz", gzip.compress(images, mtime=0))
put("idx", "overflow_dims", idx(0x803, [0xFFFFFFFF, 0xFFFFFFFF, 0x10000], [1] * 64))
put("idx", "larger_than_file", idx(0x803, [0x10000, 0x10000, 0x100], [1] * 64))
put("idx", "trailing", labels + b"\x01\x02")
put("idx", "bomb.gz", gzip.compress(idx(0x803, [2, 2, 2], []) + bytes(1 << 20), mtime=0))
put("idx", "huge_pixels", idx(0x803, [0, 0x10000, 0x10000], []))
put("idx", "truncated_header", bytes([0, 0, 8, 3, 0, 0]))


# ---- npy
def npy(header, data=b"", version=1):
    h = header
    while (10 + len(h) + 1) % 64:
        h += " "
    h += "\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + data
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(h)) + h.encode() + data


put("npy", "valid_2d", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", struct.pack("<6f", *range(6))))
put("npy", "valid_1d_c", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", struct.pack("<3f", 1, 2, 3)))
put("npy", "valid_v2", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", struct.pack("<f", 1), 2))
put("npy", "shape_huge", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (99999999999999999999, 1), }"))
put("npy", "shape_overflow", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (4611686018427387904, 4), }"))
put("npy", "shape_3d", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2, 3), }"))
put("npy", "f8", npy("{'descr': '<f8', 'fortran_order': True, 'shape': (1,), }", bytes(8)))
put("npy", "v2_huge_header", b"\x93NUMPY\x02\x00\xff\xff\xff\xff")

# ---- manifest
good = {"format": 2, "epoch": 2, "step": 4, "config_hash": "0", "base_dir": "/tmp",
        "params": [{"name": "dense0.W", "shape": [8, 2], "file": "dense0.W.npy"}],
        "buffers": [], "optimizer": [{"name": "dense0.W/m", "shape": [8, 2], "file": "optimizer@dense0.W@m.npy"}],
        "schedule": [],
        "trainer": {"columns": ["epoch", "train_loss", "lr"], "rows": [[1, 0.9, 0.1], [2, 0.5, None]],
                    "best": {"metric": "val_loss", "value": 0.5, "epoch": 2},
                    "early_stopping": {"best": None, "bad_epochs": 0}, "seconds": 1.5},
        "config": "name: x\n"}
put("manifest", "valid.json", json.dumps(good, indent=2))


def variant(name, edit):
    m = json.loads(json.dumps(good))
    edit(m)
    put("manifest", name, json.dumps(m))


variant("short_row.json", lambda m: m["trainer"]["rows"].__setitem__(1, [2]))
variant("long_row.json", lambda m: m["trainer"]["rows"].__setitem__(0, [1, 0.9, 0.1, 7]))
variant("empty_row.json", lambda m: m["trainer"]["rows"].__setitem__(0, []))
variant("negative_epoch.json", lambda m: m.__setitem__("epoch", -1))
variant("rows_vs_epoch.json", lambda m: m.__setitem__("epoch", 5))
variant("file_escape.json", lambda m: m["params"][0].__setitem__("file", "../../etc/passwd"))
variant("negative_shape.json", lambda m: m["params"][0].__setitem__("shape", [-1, 2]))
put("manifest", "truncated.json", json.dumps(good)[:50])


# ---- npy_array: the `npy` dataset's reader, .npy files and .npz archives (zip members X.npy)
def npz(members, method):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression=method) as z:
        for name, data in members:
            # A fixed date: the seed bytes do not change each time this script runs.
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data, compress_type=method)
    return b.getvalue()




x = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", struct.pack("<6f", *range(6)))
y = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", struct.pack("<2q", 0, 1))
xf = npy("{'descr': '>f8', 'fortran_order': True, 'shape': (2, 2, 2), }", struct.pack(">8d", *range(8)))
put("npy_array", "x.npy", x)
put("npy_array", "fortran_big_endian_3d.npy", xf)
put("npy_array", "bool.npy", npy("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", bytes([0, 1, 1, 0])))
put("npy_array", "u2_swapped.npy", npy("{'descr': '>u2', 'fortran_order': False, 'shape': (3,), }", bytes(6)))
put("npy_array", "trailing.npy", x + b"\0\0\0\0")
put("npy_array", "truncated.npy", x[:-4])
put("npy_array", "empty_huge_dim.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (0, 237420520689656), }"))
put("npy_array", "savez.npz", npz([("x.npy", x), ("y.npy", y), ("xf.npy", xf)], zipfile.ZIP_STORED))
put("npy_array", "savez_compressed.npz", npz([("x.npy", x), ("y.npy", y)], zipfile.ZIP_DEFLATED))
put("npy_array", "not_npy_member.npz", npz([("x.npy", b"hello"), ("readme.txt", b"text")], zipfile.ZIP_STORED))
put("npy_array", "cut.npz", npz([("x.npy", x), ("y.npy", y)], zipfile.ZIP_STORED)[:-40])
put("npy_array", "bzip2.npz", npz([("x.npy", x)], zipfile.ZIP_BZIP2))

# ---- csv: first line the `features` option, then the CSV file (target column `y`)
put("csv", "iris", "\nid,sepal_length,sepal_width,petal_length,petal_width,y\n1,5.1,3.5,1.4,0.2,setosa\n"
    "2,7.0,3.2,4.7,1.4,versicolor\n3, 6.3 ,3.3,6.0,2.5,virginica\n\n4,4.9,3.0,1.4,0.2,\"setosa\"\n"
    "5,6.4,3.2,4.5,1.5,versicolor\n6,5.8,2.7,5.1,1.9,virginica\n")
put("csv", "range", "a:b, 4\na,b,c,d,y\n1,2,3,4,0\n5,6,7,8,1\n9,10,11,12,1\n13,14,15,16,0\n")
put("csv", "values", "2:3\nid,u,v,y\n1,0.5,1e-3,0.25\n2,-1,2,1.5\n3,4,5,-2.5\n4,1,1,3\n")
put("csv", "quoted", "\n\"a,b\",\"c\nd\",y\n\"1\",\"2\",0\n3,\"4\",1\n5,6,1\n")
put("csv", "missing_value", "\na,b,y\n1,,0\n2,3,1\n")
put("csv", "not_a_number", "\na,b,y\n1,x,0\n2,3,1\n")
put("csv", "short_row", "\na,b,y\n1,2\n2,3,1\n")
put("csv", "duplicate_column", "\na,a,y\n1,2,0\n2,3,1\n")
put("csv", "open_quote", "\na,b,y\n1,\"2,0\n")
put("csv", "backwards_range", "b:a\na,b,y\n1,2,0\n2,3,1\n")
put("csv", "nan_inf", "\na,b,y\n1,nan,0\ninf,3,1\n")
put("csv", "huge_label", "\na,y\n1,1e300\n2,4294967297\n")
put("csv", "one_class", "\na,y\n1,0\n2,0\n")
packed = bytearray(npz([("x.npy", x)], zipfile.ZIP_DEFLATED))
# Claims 4 GB inflated, in the local header and the central directory alike (minizip refuses a
# member whose two headers disagree).
loc, cen = packed.index(b"PK\x03\x04"), packed.index(b"PK\x01\x02")
packed[loc + 22:loc + 26] = packed[cen + 24:cen + 28] = struct.pack("<I", 0xFFFFFF00)
put("npy_array", "claims_huge.npz", bytes(packed))
