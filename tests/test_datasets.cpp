// Dataset plugins: the IDX reader (plain and gzip, every error it reports), the Fashion-MNIST
// preset, the synthetic problems, the memory tasks and char_text.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"

using namespace unroll;
using namespace unroll::testing;
using Catch::Contains;

namespace {

// ---- writing IDX files ----

void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
void put32le(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 0; s < 32; s += 8) b.push_back(static_cast<uint8_t>(v >> s));
}

std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b;
  put32(b, magic);
  for (uint32_t d : dims) put32(b, d);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

uint32_t crc32(const std::vector<uint8_t>& data) {
  uint32_t c = 0xffffffffu;
  for (uint8_t byte : data) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// A valid gzip member holding `data` in stored (uncompressed) deflate blocks: no zlib needed to
// write it, and any gzip reader must accept it.
std::vector<uint8_t> gzip_stored(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> g{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  std::size_t at = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, data.size() - at);
    const bool last = at + n == data.size();
    g.push_back(last ? 1 : 0);
    g.push_back(static_cast<uint8_t>(n));
    g.push_back(static_cast<uint8_t>(n >> 8));
    g.push_back(static_cast<uint8_t>(~n));
    g.push_back(static_cast<uint8_t>(~n >> 8));
    g.insert(g.end(), data.begin() + at, data.begin() + at + n);
    at += n;
  } while (at < data.size());
  put32le(g, crc32(data));
  put32le(g, static_cast<uint32_t>(data.size()));
  return g;
}

void write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// n images of rows x cols with pixel (i, p) = (7 i + 3 p) mod 256, labels i mod classes.
struct ImageSet {
  int n, rows, cols, classes;
  std::vector<uint8_t> pixels, labels;
  ImageSet(int n_, int r, int c, int k) : n(n_), rows(r), cols(c), classes(k) {
    for (int i = 0; i < n; ++i) {
      for (int p = 0; p < r * c; ++p) pixels.push_back(static_cast<uint8_t>((7 * i + 3 * p) % 256));
      labels.push_back(static_cast<uint8_t>(i % k));
    }
  }
  std::vector<uint8_t> image_file() const {
    return idx_bytes(0x803, {uint32_t(n), uint32_t(rows), uint32_t(cols)}, pixels);
  }
  std::vector<uint8_t> label_file() const { return idx_bytes(0x801, {uint32_t(n)}, labels); }
};

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Build a dataset from YAML with a chosen seed and base folder (make_dataset fixes seed 1).
std::shared_ptr<Dataset> build(const std::string& yaml, uint64_t seed = 1, const std::string& base_dir = ".") {
  TestContext ctx("data");
  ctx.seed = seed;
  ctx.base_dir = base_dir;
  return host().build<Dataset>(Kind::Dataset, validate_component(parse_yaml(yaml, "<test>"), Kind::Dataset, host()),
                               ctx);
}

std::vector<std::size_t> iota_indices(std::size_t n) {
  std::vector<std::size_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::string idx_yaml(const std::string& images, const std::string& labels, const std::string& extra = "") {
  return "{kind: idx, train_images: " + quoted(images) + ", train_labels: " + quoted(labels) + extra + "}";
}

// Shapes of a batch agree with info(), for both splits, and labels are in range.
void check_shapes(Dataset& d) {
  const DatasetInfo info = d.info();
  for (Split split : {Split::Train, Split::Test}) {
    if (split == Split::Test && !info.has_test) continue;
    const std::size_t n = d.size(split);
    REQUIRE(n >= 2);
    const std::vector<std::size_t> idx{n - 1, 0, 1};
    Seq x;
    Targets y;
    d.batch(split, idx, x, y);
    const int ty = info.every_step ? info.steps : 1;
    REQUIRE(x.features() == info.input_size);
    REQUIRE(x.steps == info.steps);
    REQUIRE(x.batch == 3);
    REQUIRE(x.data.cols() == info.steps * 3);
    REQUIRE(x.data.allFinite());
    REQUIRE(y.steps == ty);
    REQUIRE(y.batch == 3);
    if (info.labels) {
      REQUIRE(y.labels.size() == static_cast<std::size_t>(ty * 3));
      for (int32_t l : y.labels) {
        REQUIRE(l >= -1);
        REQUIRE(l < info.output_size);
      }
    } else {
      REQUIRE(y.values.rows() == info.output_size);
      REQUIRE(y.values.cols() == ty * 3);
    }
    // Same shape again: the buffers are reused, not reallocated.
    const float* xp = x.data.data();
    const int32_t* lp = y.labels.data();
    d.batch(split, std::vector<std::size_t>{1, 0, n - 1}, x, y);
    REQUIRE(x.data.data() == xp);
    REQUIRE(y.labels.data() == lp);
  }
}

bool same_batch(Dataset& a, Dataset& b, Split split) {
  const auto idx = iota_indices(std::min<std::size_t>(a.size(split), 16));
  Seq xa, xb;
  Targets ya, yb;
  a.batch(split, idx, xa, ya);
  b.batch(split, idx, xb, yb);
  return xa.data == xb.data && ya.labels == yb.labels && ya.values == yb.values;
}

// Deterministic per seed, different across seeds, right shapes.
void check_generated(const std::string& yaml) {
  INFO(yaml);
  auto a = build(yaml, 1), b = build(yaml, 1), c = build(yaml, 2);
  check_shapes(*a);
  REQUIRE(a->info().has_test);
  REQUIRE(same_batch(*a, *b, Split::Train));
  REQUIRE(same_batch(*a, *b, Split::Test));
  REQUIRE_FALSE(same_batch(*a, *c, Split::Train));
}

int argmax(const Seq& x, Eigen::Index col) {
  Eigen::Index r;
  x.data.col(col).maxCoeff(&r);
  return static_cast<int>(r);
}

}  // namespace

// ---------------------------------------------------------------- idx

TEST_CASE("idx reads plain and gzip IDX files with the same result", "[datasets][idx]") {
  TempDir dir;
  const ImageSet train(6, 3, 4, 3), test(4, 3, 4, 3);
  write(dir.file("train-images"), train.image_file());
  write(dir.file("train-labels"), train.label_file());
  write(dir.file("test-images.gz"), gzip_stored(test.image_file()));
  write(dir.file("test-labels.gz"), gzip_stored(test.label_file()));
  write(dir.file("train-images.gz"), gzip_stored(train.image_file()));
  write(dir.file("train-labels.gz"), gzip_stored(train.label_file()));

  auto plain = build(idx_yaml(
      dir.file("train-images"), dir.file("train-labels"),
      ", test_images: " + quoted(dir.file("test-images.gz")) + ", test_labels: " + quoted(dir.file("test-labels.gz"))));
  const DatasetInfo info = plain->info();
  REQUIRE(info.input_size == 12);
  REQUIRE(info.steps == 1);
  REQUIRE(info.output_size == 3);  // largest label + 1
  REQUIRE(info.labels);
  REQUIRE(info.has_test);
  REQUIRE(plain->size(Split::Train) == 6);
  REQUIRE(plain->size(Split::Test) == 4);
  check_shapes(*plain);

  Seq x;
  Targets y;
  const std::vector<std::size_t> idx{4, 1};
  plain->batch(Split::Train, idx, x, y);
  for (int b = 0; b < 2; ++b) {
    for (int p = 0; p < 12; ++p) REQUIRE(x.data(p, b) == Approx(train.pixels[idx[b] * 12 + p] / 255.0f));
    REQUIRE(y.labels[b] == train.labels[idx[b]]);
  }
  plain->batch(Split::Test, std::vector<std::size_t>{3}, x, y);
  REQUIRE(x.data(5, 0) == Approx(test.pixels[3 * 12 + 5] / 255.0f));
  REQUIRE(y.labels[0] == test.labels[3]);

  auto gz = build(idx_yaml(dir.file("train-images.gz"), dir.file("train-labels.gz"), ", scale: 1"));
  REQUIRE_FALSE(gz->info().has_test);
  REQUIRE(gz->size(Split::Test) == 0);
  Seq xg;
  Targets yg;
  gz->batch(Split::Train, idx, xg, yg);
  plain->batch(Split::Train, idx, x, y);
  REQUIRE((xg.data / 255.0f).isApprox(x.data));
  REQUIRE(yg.labels == y.labels);
}

TEST_CASE("idx sequential: R rows of C pixels become R steps of C features", "[datasets][idx]") {
  TempDir dir;
  const ImageSet train(5, 3, 4, 2);
  write(dir.file("i"), train.image_file());
  write(dir.file("l"), train.label_file());
  // Relative paths resolve against the experiment's folder.
  auto d = build("{kind: idx, train_images: i, train_labels: l, sequential: true, classes: 4}", 1, dir.path);
  REQUIRE(d->info().steps == 3);
  REQUIRE(d->info().input_size == 4);
  REQUIRE(d->info().output_size == 4);
  REQUIRE_FALSE(d->info().every_step);
  check_shapes(*d);
  Seq x;
  Targets y;
  const std::vector<std::size_t> idx{2, 0, 4};
  d->batch(Split::Train, idx, x, y);
  REQUIRE(y.steps == 1);
  for (int t = 0; t < 3; ++t)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c) REQUIRE(x.step(t)(c, b) == Approx(train.pixels[idx[b] * 12 + t * 4 + c] / 255.0f));
}

TEST_CASE("idx reports what is wrong with a file, naming it", "[datasets][idx]") {
  TempDir dir;
  const ImageSet set(5, 3, 4, 3);
  const std::string images = dir.file("images"), labels = dir.file("labels");
  write(images, set.image_file());
  write(labels, set.label_file());

  SECTION("bad magic") {
    write(images, set.label_file());
    REQUIRE_THROWS_WITH(build(idx_yaml(images, labels)),
                        Contains(images) && Contains("bad magic number 0x00000801, expected 0x00000803"));
  }
  SECTION("truncated data") {
    auto bytes = set.image_file();
    bytes.pop_back();
    write(images, bytes);
    REQUIRE_THROWS_WITH(build(idx_yaml(images, labels)), Contains(images) && Contains("expected 60 bytes, got 59"));
  }
  SECTION("truncated header") {
    write(images, {0, 0, 8, 3, 0, 0});
    REQUIRE_THROWS_WITH(build(idx_yaml(images, labels)), Contains(images) && Contains("expected 16 bytes, got 6"));
  }
  SECTION("label count differs from image count") {
    write(labels, ImageSet(4, 3, 4, 3).label_file());
    REQUIRE_THROWS_WITH(build(idx_yaml(images, labels)),
                        Contains(labels) && Contains("4 labels") && Contains("5 images"));
  }
  SECTION("label not below the number of classes") {
    REQUIRE_THROWS_WITH(build(idx_yaml(images, labels, ", classes: 2")),
                        Contains(labels) && Contains("label 2 at index 2") && Contains("number of classes (2)"));
  }
  SECTION("gzip magic but not decompressible") {
    write(images, {0x1f, 0x8b, 0x42, 0x17, 0x00, 0x99, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde});
    REQUIRE_THROWS_WITH(build(idx_yaml(images, labels)), Contains(images) && Contains("cannot be decompressed"));
  }
  SECTION("gzip with a wrong checksum") {
    auto gz = gzip_stored(set.image_file());
    gz[gz.size() - 8] ^= 0xff;
    write(images, gz);
    REQUIRE_THROWS_WITH(build(idx_yaml(images, labels)),
                        Contains(images) && Contains("cannot be decompressed (checksum mismatch)"));
  }
  SECTION("truncated gzip") {
    auto gz = gzip_stored(set.image_file());
    gz.resize(gz.size() - 20);
    write(images, gz);
    REQUIRE_THROWS_WITH(build(idx_yaml(images, labels)), Contains(images) && Contains("cannot be decompressed"));
  }
  SECTION("missing file") {
    REQUIRE_THROWS_WITH(build(idx_yaml(dir.file("nope"), labels)), Contains("cannot open " + dir.file("nope")));
  }
  SECTION("test images without test labels") {
    REQUIRE_THROWS_WITH(build(idx_yaml(images, labels, ", test_images: " + quoted(images))),
                        Contains("test_images and test_labels must be given together"));
  }
}

// ---------------------------------------------------------------- fashion_mnist

TEST_CASE("fashion_mnist without its files names the Debian package", "[datasets][fashion_mnist]") {
  TempDir dir;
  const std::string missing = dir.file("no-such-folder");
  REQUIRE_THROWS_WITH(build("{kind: fashion_mnist, dir: " + quoted(missing) + "}"),
                      Contains("Fashion-MNIST not found in " + missing) &&
                          Contains("apt-get install dataset-fashion-mnist") && Contains("data.dir"));
}

TEST_CASE("fashion_mnist from the installed package", "[datasets][fashion_mnist]") {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist is not installed; skipped");
    return;
  }
  auto flat = build("{kind: fashion_mnist}");
  REQUIRE(flat->size(Split::Train) == 60000);
  REQUIRE(flat->size(Split::Test) == 10000);
  REQUIRE(flat->info().input_size == 784);
  REQUIRE(flat->info().output_size == 10);
  REQUIRE(flat->info().steps == 1);
  Seq x;
  Targets y;
  const std::vector<std::size_t> idx{0, 59999, 12345};
  flat->batch(Split::Train, idx, x, y);
  REQUIRE(x.data.minCoeff() >= 0.0f);
  REQUIRE(x.data.maxCoeff() <= 1.0f);
  REQUIRE(x.data.maxCoeff() > 0.5f);  // real images, not zeros

  auto seq = build("{kind: fashion_mnist, sequential: true}");
  REQUIRE(seq->info().steps == 28);
  REQUIRE(seq->info().input_size == 28);
  Seq xs;
  Targets ys;
  seq->batch(Split::Train, idx, xs, ys);
  REQUIRE(ys.labels == y.labels);
  for (int t = 0; t < 28; ++t) REQUIRE(xs.step(t) == x.data.middleRows(28 * t, 28));
}

// ---------------------------------------------------------------- synthetic

TEST_CASE("synthetic datasets: shapes, determinism per seed", "[datasets][synthetic]") {
  check_generated("{kind: xor, repeat: 3, noise: 0.1}");
  check_generated("{kind: xor, repeat: 2, noise: 0.1, targets: labels}");
  check_generated("{kind: blobs, classes: 4, features: 3, samples: 10, test_samples: 5}");
  check_generated("{kind: spirals, classes: 3, samples: 20, test_samples: 10, noise: 0.05}");
}

TEST_CASE("xor is the 4-point truth table", "[datasets][synthetic]") {
  for (const std::string targets : {"values", "labels"}) {
    auto d = build("{kind: xor, repeat: 5, targets: " + targets + "}");
    const bool labels = targets == "labels";
    REQUIRE(d->info().output_size == (labels ? 2 : 1));
    REQUIRE(d->info().labels == labels);
    REQUIRE(d->size(Split::Train) == 20);
    REQUIRE(d->size(Split::Test) == 4);
    for (Split split : {Split::Train, Split::Test}) {
      Seq x;
      Targets y;
      d->batch(split, iota_indices(d->size(split)), x, y);
      std::set<std::pair<int, int>> seen;
      for (Eigen::Index c = 0; c < x.data.cols(); ++c) {
        const float a = x.data(0, c), b = x.data(1, c);
        REQUIRE((a == 0.0f || a == 1.0f));
        REQUIRE((b == 0.0f || b == 1.0f));
        const int want = (a != b) ? 1 : 0;
        if (labels)
          REQUIRE(y.labels[c] == want);
        else
          REQUIRE(y.values(0, c) == static_cast<float>(want));
        seen.insert({int(a), int(b)});
      }
      REQUIRE(seen.size() == 4);
    }
  }
  // Noise moves the training inputs but not the clean test points.
  auto noisy = build("{kind: xor, noise: 0.2}");
  Seq x;
  Targets y;
  noisy->batch(Split::Train, iota_indices(4), x, y);
  REQUIRE((x.data.array() != x.data.array().round()).any());
  noisy->batch(Split::Test, iota_indices(4), x, y);
  REQUIRE((x.data.array() == x.data.array().round()).all());
}

TEST_CASE("blobs: points of a class gather around one centre", "[datasets][synthetic]") {
  auto d = build("{kind: blobs, classes: 3, features: 2, samples: 40, test_samples: 20, spread: 0.3}");
  REQUIRE(d->size(Split::Train) == 120);
  REQUIRE(d->size(Split::Test) == 60);
  auto class_means = [&](Split split) {
    Seq x;
    Targets y;
    d->batch(split, iota_indices(d->size(split)), x, y);
    Matrix m = Matrix::Zero(2, 3);
    std::vector<int> count(3, 0);
    for (Eigen::Index c = 0; c < x.data.cols(); ++c) {
      m.col(y.labels[c]) += x.data.col(c);
      ++count[y.labels[c]];
    }
    for (int k = 0; k < 3; ++k) {
      REQUIRE(count[k] == static_cast<int>(d->size(split) / 3));
      m.col(k) /= static_cast<float>(count[k]);
    }
    return m;
  };
  const Matrix train = class_means(Split::Train), test = class_means(Split::Test);
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 3; ++j)
      if (j != k) REQUIRE((train.col(k) - test.col(k)).norm() < (train.col(k) - test.col(j)).norm());
}

TEST_CASE("spirals: each point lies on its arm", "[datasets][synthetic]") {
  auto d = build("{kind: spirals, classes: 3, samples: 30, test_samples: 10, turns: 1.5}");
  Seq x;
  Targets y;
  d->batch(Split::Train, iota_indices(d->size(Split::Train)), x, y);
  for (Eigen::Index c = 0; c < x.data.cols(); ++c) {
    const double r = std::hypot(x.data(0, c), x.data(1, c));
    REQUIRE(r <= 1.0 + 1e-5);
    if (r < 1e-3) continue;
    const double expected = 2 * M_PI * (1.5 * r + y.labels[c] / 3.0);
    const double diff = std::remainder(std::atan2(x.data(1, c), x.data(0, c)) - expected, 2 * M_PI);
    REQUIRE(std::abs(diff) < 1e-3);
  }
}

// ---------------------------------------------------------------- memory tasks

TEST_CASE("memory tasks: shapes, determinism per seed", "[datasets][sequence]") {
  check_generated("{kind: delayed_recall, lag: 3, alphabet: 5, length: 9, samples: 20, test_samples: 8}");
  check_generated("{kind: copy, symbols: 4, alphabet: 6, delay: 2, samples: 20, test_samples: 8}");
  check_generated("{kind: adding, length: 12, samples: 20, test_samples: 8}");
}

TEST_CASE("delayed_recall: the target is the symbol seen lag steps earlier", "[datasets][sequence]") {
  const int L = 3, A = 5, T = 9;
  auto d = build("{kind: delayed_recall, lag: 3, alphabet: 5, length: 9, samples: 20, test_samples: 8}");
  const DatasetInfo info = d->info();
  REQUIRE(info.input_size == A);
  REQUIRE(info.output_size == A);
  REQUIRE(info.steps == T);
  REQUIRE(info.every_step);
  Seq x;
  Targets y;
  const std::vector<std::size_t> idx{7, 2, 19, 0};
  const int B = 4;
  d->batch(Split::Train, idx, x, y);
  REQUIRE(y.steps == T);
  REQUIRE((x.data.colwise().sum().array() == 1.0f).all());  // one-hot
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < B; ++b) {
      const int32_t label = y.labels[t * B + b];
      if (t < L)
        REQUIRE(label == -1);
      else
        REQUIRE(label == argmax(x, (t - L) * B + b));
    }
}

TEST_CASE("copy: after the delimiter the target replays the symbols", "[datasets][sequence]") {
  const int S = 4, A = 6, delay = 2, T = 2 * S + delay + 1;
  auto d = build("{kind: copy, symbols: 4, alphabet: 6, delay: 2, samples: 20, test_samples: 8}");
  REQUIRE(d->info().steps == T);
  REQUIRE(d->info().input_size == A + 2);
  REQUIRE(d->info().output_size == A);
  Seq x;
  Targets y;
  const int B = 3;
  d->batch(Split::Test, std::vector<std::size_t>{5, 1, 7}, x, y);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const int in = argmax(x, t * B + b);
      const int32_t label = y.labels[t * B + b];
      if (t < S) {
        REQUIRE(in < A);
        REQUIRE(label == -1);
      } else if (t == S + delay) {
        REQUIRE(in == A + 1);
        REQUIRE(label == -1);
      } else {
        REQUIRE(in == A);
        REQUIRE(label == (t > S + delay ? argmax(x, (t - S - delay - 1) * B + b) : -1));
      }
    }
}

TEST_CASE("adding: the target is the sum of the two marked values", "[datasets][sequence]") {
  const int T = 12;
  auto d = build("{kind: adding, length: 12, samples: 20, test_samples: 8}");
  REQUIRE_FALSE(d->info().labels);
  REQUIRE_FALSE(d->info().every_step);
  REQUIRE(d->info().input_size == 2);
  REQUIRE(d->info().output_size == 1);
  Seq x;
  Targets y;
  const std::size_t B = d->size(Split::Train);
  d->batch(Split::Train, iota_indices(B), x, y);
  REQUIRE(y.values.rows() == 1);
  REQUIRE(y.values.cols() == static_cast<Eigen::Index>(B));
  for (std::size_t b = 0; b < B; ++b) {
    double sum = 0;
    int first = 0, second = 0;
    for (int t = 0; t < T; ++t) {
      const Eigen::Index col = t * static_cast<Eigen::Index>(B) + b;
      REQUIRE(x.data(0, col) >= 0.0f);
      REQUIRE(x.data(0, col) < 1.0f);
      if (x.data(1, col) == 1.0f) {
        sum += x.data(0, col);
        (t < T / 2 ? first : second) += 1;
      } else {
        REQUIRE(x.data(1, col) == 0.0f);
      }
    }
    REQUIRE(first == 1);
    REQUIRE(second == 1);
    REQUIRE(y.values(0, b) == Approx(sum));
  }
}

TEST_CASE("memory tasks reject impossible settings", "[datasets][sequence]") {
  REQUIRE_THROWS_WITH(build("{kind: delayed_recall, lag: 10, length: 10}"), Contains("must exceed lag"));
}

// ---------------------------------------------------------------- char_text

TEST_CASE("char_text: next-character prediction over non-overlapping windows", "[datasets][char_text]") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 10; ++i) text += "the cat sat on the mat " + std::to_string(i) + "\n";
  { std::ofstream(dir.file("corpus.txt"), std::ios::binary) << text; }
  const int T = 7;
  auto d = build("{kind: char_text, path: corpus.txt, length: 7, test_fraction: 0.25}", 1, dir.path);
  const std::set<char> chars(text.begin(), text.end());
  const std::vector<char> vocab(chars.begin(), chars.end());  // sorted bytes
  const DatasetInfo info = d->info();
  REQUIRE(info.input_size == static_cast<int>(vocab.size()));
  REQUIRE(info.output_size == static_cast<int>(vocab.size()));
  REQUIRE(info.steps == T);
  REQUIRE(info.every_step);
  REQUIRE(info.has_test);
  REQUIRE(info.bits_per_symbol);
  const std::size_t test_chars = static_cast<std::size_t>(0.25 * static_cast<double>(text.size()));
  const std::size_t train_end = text.size() - test_chars;
  REQUIRE(d->size(Split::Train) == (train_end - 1) / T);
  REQUIRE(d->size(Split::Test) == (test_chars - 1) / T);
  check_shapes(*d);

  for (Split split : {Split::Train, Split::Test}) {
    const std::size_t start = split == Split::Train ? 0 : train_end;
    const std::vector<std::size_t> idx{d->size(split) - 1, 0, 2};
    const int B = 3;
    Seq x;
    Targets y;
    d->batch(split, idx, x, y);
    REQUIRE((x.data.colwise().sum().array() == 1.0f).all());
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t) {
        const std::size_t at = start + idx[b] * T + t;
        REQUIRE(vocab[argmax(x, t * B + b)] == text[at]);
        REQUIRE(vocab[y.labels[t * B + b]] == text[at + 1]);
      }
  }
  REQUIRE_THROWS_WITH(build("{kind: char_text, path: corpus.txt, length: 1000}", 1, dir.path),
                      Contains("corpus.txt") && Contains("needs at least length + 1"));
  REQUIRE_THROWS_WITH(build("{kind: char_text, path: missing.txt}", 1, dir.path),
                      Contains("cannot open text file") && Contains("missing.txt"));
}
