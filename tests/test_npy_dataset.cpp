// The `npy` dataset and unroll::NpyArray: every dtype, C and Fortran order, .npz archives
// (stored and deflated), the target layouts, test splits, every bad-input error, and a run on
// researcher-style arrays with `standardize: true`.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "support.hpp"
#include "unroll/files.hpp"
#include "unroll/host/run_data.hpp"
#include "unroll/host/standardize.hpp"
#include "unroll/npy_array.hpp"
#include "unroll/rng.hpp"

using namespace unroll;
using namespace unroll::testing;
using Catch::Contains;

namespace {

/// Bytes of a .npy file (format 1.0) with the given dtype descr, shape and raw data.
std::string npy_bytes(const std::string& descr, const std::vector<std::size_t>& shape, const std::string& raw,
                      bool fortran = false) {
  std::string sh = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) sh += (i ? ", " : "") + std::to_string(shape[i]);
  sh += shape.size() == 1 ? ",)" : ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + sh + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + raw;
}

template <class T>
std::string raw_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

void write(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

template <class T>
void write_npy(const std::string& path, const std::string& descr, const std::vector<std::size_t>& shape,
               const std::vector<T>& v) {
  write(path, npy_bytes(descr, shape, raw_of(v)));
}

std::shared_ptr<Dataset> build(const std::string& yaml, const std::string& base_dir, uint64_t seed = 1) {
  TestContext ctx("data");
  ctx.seed = seed;
  ctx.base_dir = base_dir;
  return host().build<Dataset>(Kind::Dataset, validate_component(parse_yaml(yaml, "<test>"), Kind::Dataset, host()),
                               ctx);
}

/// Run python3 with numpy (tools/setup installs both); the test fails, naming why, without them.
void python(const std::string& dir, const std::string& code) {
  const std::string script = dir + "/make.py";
  std::ofstream(script) << "import numpy as np\nimport os\nos.chdir(" << nlohmann::json(dir).dump() << ")\n" << code;
  const int rc = std::system(("/usr/bin/python3 " + script + " 2>" + dir + "/py.err").c_str());
  if (rc != 0)
    FAIL("python3 with numpy is needed to write .npz fixtures (tools/setup installs python3-numpy): " +
         read_file(dir + "/py.err"));
}

}  // namespace

TEST_CASE("NpyArray reads every supported dtype, C and Fortran order, converting to float", "[datasets][npy]") {
  TempDir dir;
  // A 2x3 array 0..5 in each dtype (C order).
  write_npy(dir.file("f4.npy"), "<f4", {2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  write_npy(dir.file("f8.npy"), "<f8", {2, 3}, std::vector<double>{0, 1, 2, 3, 4, 5});
  write_npy(dir.file("u1.npy"), "|u1", {2, 3}, std::vector<uint8_t>{0, 1, 2, 3, 4, 5});
  write_npy(dir.file("i1.npy"), "|i1", {2, 3}, std::vector<int8_t>{0, 1, 2, 3, 4, 5});
  write_npy(dir.file("i2.npy"), "<i2", {2, 3}, std::vector<int16_t>{0, 1, 2, 3, 4, 5});
  write_npy(dir.file("i4.npy"), "<i4", {2, 3}, std::vector<int32_t>{0, 1, 2, 3, 4, 5});
  write_npy(dir.file("i8.npy"), "<i8", {2, 3}, std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  write_npy(dir.file("u8.npy"), "<u8", {2, 3}, std::vector<uint64_t>{0, 1, 2, 3, 4, 5});
  // Fortran order: the same logical array stored column by column.
  write(dir.file("fortran.npy"), npy_bytes("<f4", {2, 3}, raw_of(std::vector<float>{0, 3, 1, 4, 2, 5}), true));
  // Big-endian int32.
  std::string be;
  for (int32_t v = 0; v < 6; ++v) be += std::string{0, 0, 0, static_cast<char>(v)};
  write(dir.file("be.npy"), npy_bytes(">i4", {2, 3}, be));

  for (const char* f : {"f4", "f8", "u1", "i1", "i2", "i4", "i8", "u8", "fortran", "be"}) {
    INFO(f);
    const NpyArray a = NpyArray::open(dir.file(std::string(f) + ".npy"));
    REQUIRE(a.shape() == std::vector<std::size_t>{2, 3});
    REQUIRE(a.shape_text() == "(2, 3)");
    std::vector<float> out(6);
    a.to_float(0, 6, out.data());
    CHECK(out == std::vector<float>{0, 1, 2, 3, 4, 5});
    CHECK(a.at(4) == 4.0);
    CHECK(a.integer(5) == 5);
    std::vector<float> part(2);
    a.to_float(3, 2, part.data());
    CHECK(part == std::vector<float>{3, 4});
  }
  CHECK(NpyArray::open(dir.file("u1.npy")).type_name() == "uint8");
  CHECK(NpyArray::open(dir.file("u1.npy")).is_integer());
  CHECK_FALSE(NpyArray::open(dir.file("f8.npy")).is_integer());
}

TEST_CASE("NpyArray names the file and the problem for bad .npy files", "[datasets][npy]") {
  TempDir dir;
  const std::string good = npy_bytes("<f4", {4, 2}, raw_of(std::vector<float>(8, 1.0f)));
  auto fails = [&](const std::string& bytes, const std::string& what) {
    write(dir.file("bad.npy"), bytes);
    REQUIRE_THROWS_WITH(NpyArray::open(dir.file("bad.npy")), Contains("bad.npy") && Contains(what));
  };
  fails("", "not a .npy file");
  fails("hello world, not numpy", "not a .npy file");
  fails(good.substr(0, 40), "truncated .npy header");
  fails(good.substr(0, good.size() - 3), "truncated data");                                           // data cut short
  fails(npy_bytes("<f4", {1000, 2}, raw_of(std::vector<float>(8, 1.0f))), "claims shape (1000, 2)");  // lying header
  fails(good + "xx", "bytes after the data");
  fails(npy_bytes("<c8", {2}, std::string(16, '\0')), "unsupported dtype '<c8'");
  fails(npy_bytes("<U3", {2}, std::string(24, '\0')), "unsupported dtype");
  std::string header_garbage = good;
  header_garbage.replace(10, 8, "[[[[[[[[");
  fails(header_garbage, "malformed .npy header");
  REQUIRE_THROWS_WITH(NpyArray::open(dir.file("missing.npy")), Contains("missing.npy") && Contains("no such"));
}

TEST_CASE("npy dataset: [N, F] inputs with integer labels, scale, and a seeded test fraction", "[datasets][npy]") {
  TempDir dir;
  const std::size_t N = 20, F = 3;
  std::vector<uint8_t> x(N * F);
  std::vector<int64_t> y(N);
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t f = 0; f < F; ++f) x[n * F + f] = static_cast<uint8_t>(n * 10 + f);
    y[n] = static_cast<int64_t>(n % 4);
  }
  write_npy(dir.file("X.npy"), "|u1", {N, F}, x);
  write_npy(dir.file("y.npy"), "<i8", {N}, y);

  auto d = build("{kind: npy, x: X.npy, y: y.npy, scale: 0.5}", dir.path);
  const DatasetInfo info = d->info();
  CHECK(info.input_size == 3);
  CHECK(info.steps == 1);
  CHECK(info.output_size == 4);
  CHECK(info.labels);
  CHECK_FALSE(info.every_step);
  CHECK_FALSE(info.has_test);
  REQUIRE(d->size(Split::Train) == N);
  Seq xs;
  Targets ys;
  const std::vector<std::size_t> idx{7, 2};
  d->batch(Split::Train, idx, xs, ys);
  REQUIRE(xs.data.rows() == 3);
  REQUIRE(xs.data.cols() == 2);
  CHECK(xs.data(1, 0) == 0.5f * 71);
  CHECK(xs.data(2, 1) == 0.5f * 22);
  CHECK(ys.labels == std::vector<int32_t>{3, 2});

  // test_fraction: a seeded subset; train and test partition the samples; same seed, same split.
  auto split_of = [&](uint64_t seed) {
    auto t = build("{kind: npy, x: X.npy, y: y.npy, test_fraction: 0.25}", dir.path, seed);
    REQUIRE(t->info().has_test);
    REQUIRE(t->size(Split::Train) == 15);
    REQUIRE(t->size(Split::Test) == 5);
    std::vector<int> first_feature;
    for (Split s : {Split::Train, Split::Test}) {
      std::vector<std::size_t> all(t->size(s));
      std::iota(all.begin(), all.end(), 0);
      t->batch(s, all, xs, ys);
      for (Eigen::Index c = 0; c < xs.data.cols(); ++c) first_feature.push_back(static_cast<int>(xs.data(0, c)) / 10);
    }
    return first_feature;
  };
  const auto a = split_of(1), b = split_of(1), c = split_of(2);
  CHECK(a == b);
  CHECK(a != c);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t n = 0; n < N; ++n) CHECK(sorted[n] == static_cast<int>(n));  // each sample exactly once
}

TEST_CASE("npy dataset: sequences with per-step labels (-1 masks) and per-step values", "[datasets][npy]") {
  TempDir dir;
  const std::size_t N = 4, T = 3, F = 2, K = 2;
  std::vector<float> x(N * T * F);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  std::vector<int32_t> yl(N * T);
  for (std::size_t i = 0; i < yl.size(); ++i) yl[i] = i % 5 == 0 ? -1 : static_cast<int32_t>(i % 3);
  std::vector<double> yv(N * T * K);
  for (std::size_t i = 0; i < yv.size(); ++i) yv[i] = 0.25 * static_cast<double>(i);
  write_npy(dir.file("X.npy"), "<f4", {N, T, F}, x);
  write_npy(dir.file("yl.npy"), "<i4", {N, T}, yl);
  write_npy(dir.file("yv.npy"), "<f8", {N, T, K}, yv);
  write_npy(dir.file("ylast.npy"), "<f8", {N, K}, std::vector<double>(N * K, 1.5));

  Seq xs;
  Targets ys;
  const std::vector<std::size_t> idx{3, 1};
  const int B = 2;
  auto labels = build("{kind: npy, x: X.npy, y: yl.npy}", dir.path);
  CHECK(labels->info().steps == 3);
  CHECK(labels->info().every_step);
  CHECK(labels->info().output_size == 3);
  labels->batch(Split::Train, idx, xs, ys);
  REQUIRE(ys.steps == 3);
  for (int b = 0; b < B; ++b)
    for (std::size_t t = 0; t < T; ++t) {
      const std::size_t n = idx[b];
      CHECK(xs.data(1, static_cast<Eigen::Index>(t) * B + b) == x[(n * T + t) * F + 1]);
      CHECK(ys.labels[t * B + b] == yl[n * T + t]);
    }

  auto values = build("{kind: npy, x: X.npy, y: yv.npy}", dir.path);
  CHECK_FALSE(values->info().labels);
  CHECK(values->info().every_step);
  CHECK(values->info().output_size == 2);
  values->batch(Split::Train, idx, xs, ys);
  REQUIRE(ys.values.rows() == 2);
  REQUIRE(ys.values.cols() == 6);
  CHECK(ys.values(1, 2 * B + 1) == static_cast<float>(yv[(1 * T + 2) * K + 1]));

  auto last = build("{kind: npy, x: X.npy, y: ylast.npy}", dir.path);
  CHECK_FALSE(last->info().every_step);
  last->batch(Split::Train, idx, xs, ys);
  CHECK(ys.steps == 1);
  CHECK(ys.values(0, 1) == 1.5f);
}

TEST_CASE("npy dataset: .npz archives, stored and compressed, with named arrays", "[datasets][npy]") {
  TempDir dir;
  python(dir.path, R"(
rng = np.random.default_rng(0)
x = rng.normal(size=(30, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int64)
np.savez('plain.npz', x=x, y=y, xt=x[:10], yt=y[:10])
np.savez_compressed('packed.npz', x=x, y=y, xt=x[:10], yt=y[:10])
np.save('x.npy', x)
np.save('y.npy', y)
np.save('xf.npy', np.asfortranarray(x.astype(np.float64)))
)");
  CHECK(NpyArray::npz_names(dir.file("plain.npz")) == std::vector<std::string>{"x", "y", "xt", "yt"});
  const std::vector<std::size_t> idx{29, 0, 11};
  Seq ref_x;
  Targets ref_y;
  build("{kind: npy, x: x.npy, y: y.npy}", dir.path)->batch(Split::Train, idx, ref_x, ref_y);
  Seq x;
  Targets y;
  build("{kind: npy, x: xf.npy, y: y.npy}", dir.path)->batch(Split::Train, idx, x, y);
  CHECK(x.data == ref_x.data);  // float64 Fortran-order file: the same numbers
  for (const char* f : {"plain.npz", "packed.npz"}) {
    INFO(f);
    auto d = build(std::string("{kind: npy, npz: ") + f + ", x: x, y: y, x_test: xt, y_test: yt}", dir.path);
    CHECK(d->size(Split::Train) == 30);
    CHECK(d->size(Split::Test) == 10);
    d->batch(Split::Train, idx, x, y);
    CHECK(x.data == ref_x.data);
    CHECK(y.labels == ref_y.labels);
    const std::vector<std::size_t> first{0};
    d->batch(Split::Test, first, x, y);
    CHECK(x.data.col(0) == ref_x.data.col(1));
    REQUIRE_THROWS_WITH(build(std::string("{kind: npy, npz: ") + f + ", x: inputs, y: y}", dir.path),
                        Contains(f) && Contains("no array 'inputs'") && Contains("x, y, xt, yt"));
  }
  // A truncated archive (its central directory cut off) and a file that is not a zip.
  const std::string whole = read_file(dir.file("plain.npz"));
  write(dir.file("cut.npz"), whole.substr(0, whole.size() / 2));
  REQUIRE_THROWS_WITH(build("{kind: npy, npz: cut.npz, x: x, y: y}", dir.path),
                      Contains("cut.npz") && Contains("not a .npz archive"));
  REQUIRE_THROWS_WITH(build("{kind: npy, npz: x.npy, x: x, y: y}", dir.path),
                      Contains("x.npy") && Contains("not a .npz archive"));
}

TEST_CASE("npy dataset: a compressed member's claimed size is checked before it is allocated", "[datasets][npy]") {
  // The buffer of a deflated member is sized from the archive's directory: a crafted directory
  // entry claiming 4 GB (or compressed bytes past the end of the file) is an error, not a 4 GB
  // allocation. The sizes are patched into the first member's local header and its central
  // directory entry alike (minizip refuses a member whose two headers disagree).
  TempDir dir;
  python(dir.path, R"(
import struct
np.savez_compressed('packed.npz', x=np.zeros((30, 4), np.float32), y=np.zeros(30, np.int64))
b = bytes(open('packed.npz', 'rb').read())
def patch(name, local_at, central_at, value):
    out = bytearray(b)
    l, c = out.index(b'PK\x03\x04'), out.index(b'PK\x01\x02')
    out[l + local_at:l + local_at + 4] = out[c + central_at:c + central_at + 4] = struct.pack('<I', value)
    open(name, 'wb').write(out)
patch('huge.npz', 22, 24, 0xFFFFFF00)  # uncompressed size
patch('past.npz', 18, 20, 0x7FFFFFFF)  # compressed size
)");
  REQUIRE_THROWS_WITH(NpyArray::open_npz(dir.file("huge.npz"), "x"), Contains("huge.npz:x") &&
                                                                         Contains("4294967040 bytes") &&
                                                                         Contains("more than deflate can expand"));
  REQUIRE_THROWS_WITH(NpyArray::open_npz(dir.file("past.npz"), "x"), Contains("past.npz:x") &&
                                                                         Contains("truncated archive") &&
                                                                         Contains("2147483647 compressed bytes"));
  CHECK(NpyArray::open_npz(dir.file("packed.npz"), "x").size() == 120);  // the unpatched archive reads
}

TEST_CASE("npy dataset: every kind of bad input is an error naming the file and the problem", "[datasets][npy]") {
  TempDir dir;
  const std::size_t N = 6;
  write_npy(dir.file("X.npy"), "<f4", {N, 2}, std::vector<float>(N * 2, 0.5f));
  write_npy(dir.file("y.npy"), "<i8", {N}, std::vector<int64_t>{0, 1, 2, 0, 1, 2});
  auto fails = [&](const std::string& yaml, const std::string& file, const std::string& what) {
    INFO(yaml);
    REQUIRE_THROWS_WITH(build(yaml, dir.path), Contains(file) && Contains(what));
  };
  // Wrong dtype, and object arrays (what np.save writes for ragged rows).
  write(dir.file("complex.npy"), npy_bytes("<c16", {N, 2}, std::string(N * 32, '\0')));
  fails("{kind: npy, x: complex.npy, y: y.npy}", "complex.npy", "unsupported dtype '<c16'");
  write(dir.file("ragged.npy"), npy_bytes("|O", {N}, std::string(N * 8, '\0')));
  fails("{kind: npy, x: ragged.npy, y: y.npy}", "ragged.npy", "unsupported dtype '|O'");
  // Wrong shapes.
  write_npy(dir.file("flat.npy"), "<f4", {N}, std::vector<float>(N, 1.0f));
  fails("{kind: npy, x: flat.npy, y: y.npy}", "flat.npy", "inputs must be [N, F] or [N, T, F], got shape (6,)");
  write_npy(dir.file("y2.npy"), "<i8", {N, 3}, std::vector<int64_t>(N * 3, 0));
  fails("{kind: npy, x: X.npy, y: y2.npy}", "y2.npy", "labels must be [N]");
  write_npy(dir.file("empty.npy"), "<f4", {0, 2}, std::vector<float>{});
  fails("{kind: npy, x: empty.npy, y: y.npy}", "empty.npy", "empty dimension");
  // N mismatch.
  write_npy(dir.file("y5.npy"), "<i8", {5}, std::vector<int64_t>{0, 1, 0, 1, 0});
  fails("{kind: npy, x: X.npy, y: y5.npy}", "y5.npy", "the inputs");
  // NaN and infinity in the inputs, NaN in values.
  std::vector<float> nan_x(N * 2, 0.5f);
  nan_x[7] = std::nanf("");
  write_npy(dir.file("nan.npy"), "<f4", {N, 2}, nan_x);
  fails("{kind: npy, x: nan.npy, y: y.npy}", "nan.npy", "NaN at [3, 1]");
  nan_x[7] = INFINITY;
  write_npy(dir.file("inf.npy"), "<f4", {N, 2}, nan_x);
  fails("{kind: npy, x: inf.npy, y: y.npy}", "inf.npy", "infinite value at [3, 1]");
  write_npy(dir.file("yv.npy"), "<f8", {N}, std::vector<double>{0, 1, NAN, 0, 1, 2});
  fails("{kind: npy, x: X.npy, y: yv.npy}", "yv.npy", "NaN at [2]");
  // Labels out of range: negative ones where no step can be masked, above classes, fractional.
  write_npy(dir.file("neg.npy"), "<i8", {N}, std::vector<int64_t>{0, 1, -1, 0, 1, 2});
  fails("{kind: npy, x: X.npy, y: neg.npy}", "neg.npy", "label -1 at index 2 is out of range");
  fails("{kind: npy, x: X.npy, y: y.npy, classes: 2}", "y.npy",
        "label 2 at index 2 is not below the number of classes (2)");
  // A label far beyond any integer type is named as written (it was converted through long long).
  write_npy(dir.file("huge.npy"), "<f8", {N}, std::vector<double>{0, 1, 1e30, 0, 1, 2});
  fails("{kind: npy, x: X.npy, y: huge.npy, targets: labels}", "huge.npy",
        "label 1000000000000000019884624838656 at index 2 is out of range");
  // NpyArray::integer on a float with no int64 value is an error, not undefined behaviour.
  write_npy(dir.file("big.npy"), "<f4", {3}, std::vector<float>{1.0f, 4.5e21f, NAN});
  const NpyArray big = NpyArray::open(dir.file("big.npy"));
  CHECK(big.integer(0) == 1);
  REQUIRE_THROWS_WITH(big.integer(1), Contains("big.npy: element 1") && Contains("has no int64 value"));
  REQUIRE_THROWS_WITH(big.integer(2), Contains("big.npy: element 2") && Contains("has no int64 value"));
  write_npy(dir.file("frac.npy"), "<f8", {N}, std::vector<double>{0, 1, 0.5, 0, 1, 2});
  fails("{kind: npy, x: X.npy, y: frac.npy, targets: labels}", "frac.npy", "not a whole number");
  // Truncated file, and a header that claims more data than the file holds.
  const std::string good = read_file(dir.file("X.npy"));
  write(dir.file("cut.npy"), good.substr(0, good.size() - 5));
  fails("{kind: npy, x: cut.npy, y: y.npy}", "cut.npy", "truncated data");
  write(dir.file("short.npy"), good.substr(0, 20));
  fails("{kind: npy, x: short.npy, y: y.npy}", "short.npy", "truncated .npy header");
  write(dir.file("liar.npy"), npy_bytes("<f4", {600, 2}, raw_of(std::vector<float>(N * 2, 0.5f))));
  fails("{kind: npy, x: liar.npy, y: y.npy}", "liar.npy", "claims shape (600, 2)");
  // Test files that do not match the training arrays, or half of a pair.
  write_npy(dir.file("X3.npy"), "<f4", {N, 3}, std::vector<float>(N * 3, 0.5f));
  fails("{kind: npy, x: X.npy, y: y.npy, x_test: X3.npy, y_test: y.npy}", "X3.npy",
        "does not match the training array");
  fails("{kind: npy, x: X.npy, y: y.npy, x_test: X.npy}", "npy dataset", "x_test and y_test must be given together");
  fails("{kind: npy, x: missing.npy, y: y.npy}", "missing.npy", "no such .npy file");
}

TEST_CASE("standardize: statistics of the training split only, saved with the run, applied to every split",
          "[datasets][npy][standardize][e2e]") {
  TempDir dir;
  // Two Gaussian classes on features of very different scales: 1000 + 50*z and 0.001*z.
  python(dir.path, R"(
rng = np.random.default_rng(3)
n = 400
y = rng.integers(0, 2, size=n)
x = np.stack([1000 + 50 * rng.normal(size=n) + 60 * y, 0.001 * rng.normal(size=n) - 0.002 * y], axis=1)
np.save('X.npy', x.astype(np.float64))
np.save('y.npy', y.astype(np.int32))
)");
  const std::string exp = R"(seed: 5
data: {kind: npy, x: X.npy, y: y.npy, test_fraction: 0.25, validation: 50, standardize: true}
model: [{kind: dense, units: 8}, {kind: tanh}, {kind: dense, units: 2}]
optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 8, batch: 20}
)";
  const RunResult r = run_text(dir, exp, "run");
  const auto st = nlohmann::json::parse(read_file(dir.file("run/standardize.json")));
  REQUIRE(st["features"] == 2);

  // The same numbers, computed independently over the training indices the trainer used: the
  // Train split minus the seeded validation hold-out (reproduced here from the seed).
  auto data = build("{kind: npy, x: X.npy, y: y.npy, test_fraction: 0.25}", dir.path, 5);
  const std::size_t n_train = data->size(Split::Train);
  std::vector<std::size_t> perm(n_train);
  std::iota(perm.begin(), perm.end(), 0);
  Rng split = Rng::derive(5, "validation-split");
  for (std::size_t i = n_train - 1; i > 0; --i) std::swap(perm[i], perm[split.below(i + 1)]);
  perm.resize(n_train - 50);
  Seq x;
  Targets y;
  data->batch(Split::Train, perm, x, y);
  const Eigen::MatrixXd xd = x.data.cast<double>();
  const Eigen::VectorXd mean = xd.rowwise().mean();
  for (int f = 0; f < 2; ++f) {
    const double sd = std::sqrt((xd.row(f).array() - mean[f]).square().mean());
    CHECK(st["mean"][f].get<double>() == Approx(mean[f]).epsilon(1e-6));
    CHECK(st["std"][f].get<double>() == Approx(sd).epsilon(1e-4));
  }
  // The run learned despite the raw scales, and the statistics round-trip through the file.
  CHECK(r.final_metrics.at("test_accuracy") > 0.8);
  const Standardization s = load_standardization(dir.file("run/standardize.json"));
  auto std_data = standardized(data, s);
  Seq xs;
  std_data->batch(Split::Train, perm, xs, y);
  CHECK(std::abs(xs.data.row(0).mean()) < 1e-3);
  CHECK(std::sqrt(xs.data.row(1).array().square().mean()) == Approx(1.0).epsilon(1e-3));
  write(dir.file("bad.json"), "{\"mean\": [1, 2], \"std\": [1]}");
  REQUIRE_THROWS_WITH(load_standardization(dir.file("bad.json")), Contains("bad.json") && Contains("equal length"));
}
