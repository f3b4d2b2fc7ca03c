#pragma once
// The IDX format (LeCun's MNIST files, also used by Fashion-MNIST), shared by the `idx` and
// `fashion_mnist` dataset plugins. Header-only: each plugin compiles its own copy, so neither
// library depends on the other.
//
// Format: a 4-byte magic 0x00 0x00 TYPE NDIMS (TYPE 0x08 = unsigned byte), NDIMS big-endian
// uint32 sizes, then the data. Images are 0x00000803 (count, rows, cols), labels 0x00000801
// (count). Files may be gzip-compressed (detected by the 0x1f 0x8b magic, not by the name).
#include <algorithm>
#include <boost/iostreams/device/array.hpp>
#include <boost/iostreams/filter/gzip.hpp>
#include <boost/iostreams/filtering_stream.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <unroll/dataset.hpp>
#include <unroll/error.hpp>
#include <unroll/parallel.hpp>

namespace unroll::idx {

inline std::string hex32(uint32_t v) {
  std::ostringstream s;
  s << "0x" << std::hex;
  s.width(8);
  s.fill('0');
  s << v;
  return s.str();
}

/// The raw bytes of a regular file. A directory, FIFO or device is refused by name before it
/// is opened (a directory's tellg() is -1, which once became a 16 EiB allocation).
inline std::vector<uint8_t> read_file_bytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw Error("cannot open " + path + ": no such file");
  if (fs::is_directory(st)) throw Error(path + ": is a directory, not an IDX file");
  if (!fs::is_regular_file(st)) throw Error(path + ": is not a regular file (a device, FIFO or socket)");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error("cannot open " + path);
  const std::streamoff size = in.tellg();
  if (size < 0) throw Error("cannot read " + path + ": its size is unknown");
  std::vector<uint8_t> raw(static_cast<std::size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(raw.size()));
  if (!in) throw Error("cannot read " + path);
  return raw;
}

/// An IDX array of unsigned bytes: its sizes and its data.
struct Array {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
};

/// Decode the bytes of an IDX file (plain, or gzip when they start with 0x1f 0x8b) whose magic
/// must be 0x000008<ndims>; `path` names the file in errors. The header is read first and the
/// product of its sizes computed with overflow checks; then exactly that many data bytes must
/// follow, no more: a gzip stream is inflated only up to the size the header declares (a gzip
/// bomb stops there), and trailing data is an error rather than silently ignored.
inline Array decode_array(const std::vector<uint8_t>& raw, const std::string& path, int ndims, const char* what) {
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(ndims);
  const uint32_t expected = 0x00000800u | static_cast<uint32_t>(ndims);
  const bool gzip = raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;

  namespace io = boost::iostreams;
  io::filtering_istream gz;
  if (gzip) {
    gz.push(io::gzip_decompressor());
    gz.push(io::array_source(reinterpret_cast<const char*>(raw.data()), raw.size()));
    gz.exceptions(std::ios::badbit);  // let the decompressor's own error through
  }
  std::size_t raw_pos = 0;
  // Up to `want` more bytes appended to `out`; returns how many came.
  auto take = [&](std::vector<uint8_t>& out, std::size_t want) -> std::size_t {
    if (!gzip) {
      const std::size_t n = std::min(want, raw.size() - raw_pos);
      out.insert(out.end(), raw.begin() + static_cast<std::ptrdiff_t>(raw_pos),
                 raw.begin() + static_cast<std::ptrdiff_t>(raw_pos + n));
      raw_pos += n;
      return n;
    }
    std::size_t got = 0;
    char buf[1 << 16];
    while (got < want) {
      gz.read(buf, static_cast<std::streamsize>(std::min<std::size_t>(sizeof buf, want - got)));
      const auto n = static_cast<std::size_t>(gz.gcount());
      if (n == 0) break;
      out.insert(out.end(), buf, buf + n);
      got += n;
    }
    return got;
  };
  auto decompress_error = [&](const char* why) {
    return Error(path + ": starts with the gzip magic but cannot be decompressed (" + std::string(why) + ")");
  };
  try {
    std::vector<uint8_t> head;
    head.reserve(header);
    take(head, header);
    auto be32 = [&](std::size_t at) {
      return (uint32_t(head[at]) << 24) | (uint32_t(head[at + 1]) << 16) | (uint32_t(head[at + 2]) << 8) |
             uint32_t(head[at + 3]);
    };
    if (head.size() < 4)
      throw Error(path + ": truncated IDX " + what + " file: expected at least 4 bytes, got " +
                  std::to_string(head.size()));
    if (be32(0) != expected)
      throw Error(path + ": bad magic number " + hex32(be32(0)) + ", expected " + hex32(expected) + " (IDX " + what +
                  " file of unsigned bytes with " + std::to_string(ndims) + " dimension(s))");
    if (head.size() < header)
      throw Error(path + ": truncated IDX " + what + " header: expected " + std::to_string(header) + " bytes, got " +
                  std::to_string(head.size()));
    Array a;
    std::size_t n = 1;
    for (int d = 0; d < ndims; ++d) {
      a.dims.push_back(be32(4 + 4 * static_cast<std::size_t>(d)));
      if (__builtin_mul_overflow(n, static_cast<std::size_t>(a.dims.back()), &n))
        throw Error(path + ": IDX " + what + " header sizes overflow: their product does not fit in memory");
    }
    // Data the file does not hold is never allocated: a plain file is checked against its size
    // first, a gzip stream grows `data` only as it inflates.
    if (!gzip && raw.size() - header < n)
      throw Error(path + ": truncated IDX " + what + " data: expected " + std::to_string(n) + " bytes, got " +
                  std::to_string(raw.size() - header));
    if (!gzip) a.data.reserve(n);
    const std::size_t got = take(a.data, n);
    if (got < n)
      throw Error(path + ": truncated IDX " + what + " data: expected " + std::to_string(n) + " bytes, got " +
                  std::to_string(got));
    std::vector<uint8_t> extra;
    if (take(extra, 1) != 0)
      throw Error(path + ": trailing data after the " + std::to_string(n) + " bytes the IDX " + what +
                  " header declares (a corrupt or concatenated file?)");
    return a;
  } catch (const boost::iostreams::gzip_error& e) {
    static const char* const why[] = {"unknown error",
                                      "corrupt compressed data",
                                      "checksum mismatch",
                                      "length mismatch",
                                      "malformed gzip header",
                                      "malformed gzip footer",
                                      "unsupported compression method"};
    throw decompress_error(why[e.error() >= 1 && e.error() <= 6 ? e.error() : 0]);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw decompress_error(e.what());
  }
}

/// Read an IDX file whose magic must be 0x000008<ndims> (decode_array).
inline Array read_array(const std::string& path, int ndims, const char* what) {
  return decode_array(read_file_bytes(path), path, ndims, what);
}

struct Files {
  std::string train_images, train_labels, test_images, test_labels;  // test ones may be empty
  double scale = 1.0 / 255.0;
  bool sequential = false;
  int classes = 0;  // 0 = max label + 1
};

/// Images as uint8, converted to float per batch. Flat: one column of rows*cols features.
/// Sequential: each image is `rows` steps of `cols` features (row t at step t), label at the end.
class Dataset final : public unroll::Dataset {
 public:
  explicit Dataset(const Files& f) : scale_(static_cast<float>(f.scale)), sequential_(f.sequential) {
    load(f.train_images, f.train_labels, splits_[0]);
    if (!f.test_images.empty() || !f.test_labels.empty()) {
      if (f.test_images.empty() || f.test_labels.empty())
        throw Error("test_images and test_labels must be given together (got only " +
                    (f.test_images.empty() ? f.test_labels : f.test_images) + ")");
      load(f.test_images, f.test_labels, splits_[1]);
      if (splits_[1].rows != splits_[0].rows || splits_[1].cols != splits_[0].cols)
        throw Error(f.test_images + ": images are " + std::to_string(splits_[1].rows) + "x" +
                    std::to_string(splits_[1].cols) + " but the training images in " + f.train_images + " are " +
                    std::to_string(splits_[0].rows) + "x" + std::to_string(splits_[0].cols));
      has_test_ = true;
    }
    classes_ = f.classes;
    if (classes_ == 0)
      for (const auto& s : splits_)
        for (uint8_t l : s.labels) classes_ = std::max(classes_, l + 1);
    for (const auto& s : splits_)
      for (std::size_t i = 0; i < s.labels.size(); ++i)
        if (s.labels[i] >= classes_)
          throw Error(s.label_file + ": label " + std::to_string(s.labels[i]) + " at index " + std::to_string(i) +
                      " is not below the number of classes (" + std::to_string(classes_) + ")");
  }

  DatasetInfo info() const override {
    const auto& s = splits_[0];
    DatasetInfo i;
    i.input_size = static_cast<int>(sequential_ ? s.cols : s.rows * s.cols);
    i.steps = sequential_ ? static_cast<int>(s.rows) : 1;
    i.output_size = classes_;
    i.labels = true;
    i.every_step = false;
    i.has_test = has_test_;
    return i;
  }

  std::size_t size(Split split) const override {
    return split == Split::Test && !has_test_ ? 0 : split_of(split).labels.size();
  }

  void batch(Split split, std::span<const std::size_t> indices, Seq& x, Targets& y) override {
    const auto& s = split_of(split);
    const int B = static_cast<int>(indices.size());
    const int rows = static_cast<int>(s.rows), cols = static_cast<int>(s.cols);
    const std::size_t pixels = s.rows * s.cols;
    if (sequential_)
      x.resize(cols, rows, B);
    else
      x.resize(rows * cols, 1, B);
    y.labels.resize(indices.size());
    y.values.resize(0, 0);
    y.steps = 1;
    y.batch = B;
    for (int b = 0; b < B; ++b) {
      const std::size_t idx = indices[b];
      if (idx >= s.labels.size())
        throw Error("idx dataset: sample " + std::to_string(idx) + " requested, the split has " +
                    std::to_string(s.labels.size()));
      y.labels[b] = s.labels[idx];
    }
    // uint8 -> float per batch (the dataset stays uint8 in memory), split over the run's threads
    // by sample; each thread's columns then sit in its cache for the first layer.
    parallel_for(
        B,
        [&](Eigen::Index from, Eigen::Index to) {
          // Shuffled samples are scattered over the whole split: samples kAhead places ahead are
          // requested while this one converts, so their DRAM latency overlaps the work.
          constexpr Eigen::Index kAhead = 2;
          auto image = [&](Eigen::Index b) { return s.pixels.data() + indices[b] * pixels; };
          for (Eigen::Index b = from; b < std::min(to, from + kAhead); ++b) prefetch(image(b), pixels);
          for (Eigen::Index b = from; b < to; ++b) {
            if (b + kAhead < to) prefetch(image(b + kAhead), pixels);
            const uint8_t* img = image(b);
            using Bytes = Eigen::Map<const Eigen::Array<uint8_t, Eigen::Dynamic, 1>>;
            if (sequential_) {  // image row r is step r: column r*B + b
              for (int r = 0; r < rows; ++r)
                x.data.col(r * B + b).array() = Bytes(img + r * cols, cols).cast<float>() * scale_;
            } else {
              x.data.col(b).array() = Bytes(img, static_cast<Eigen::Index>(pixels)).cast<float>() * scale_;
            }
          }
        },
        /*grain=*/16);
  }

 private:
  struct Part {
    std::vector<uint8_t> pixels, labels;
    std::size_t rows = 0, cols = 0;
    std::string label_file;
  };

  static void prefetch(const uint8_t* p, std::size_t bytes) {
    for (std::size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off);
  }

  const Part& split_of(Split split) const {
    if (split == Split::Test && !has_test_) throw Error("idx dataset: no test split (test_images is not set)");
    return splits_[split == Split::Train ? 0 : 1];
  }

  static void load(const std::string& image_file, const std::string& label_file, Part& p) {
    Array images = read_array(image_file, 3, "images");
    Array labels = read_array(label_file, 1, "labels");
    if (labels.dims[0] != images.dims[0])
      throw Error(label_file + ": " + std::to_string(labels.dims[0]) + " labels, but " + image_file + " has " +
                  std::to_string(images.dims[0]) + " images");
    if (images.dims[1] == 0 || images.dims[2] == 0) throw Error(image_file + ": images have a zero dimension");
    // Sizes reach the model as int (features per column, steps).
    if (std::size_t(images.dims[1]) * images.dims[2] > std::size_t(std::numeric_limits<int>::max()))
      throw Error(image_file + ": images of " + std::to_string(images.dims[1]) + "x" + std::to_string(images.dims[2]) +
                  " pixels are too large");
    p.rows = images.dims[1];
    p.cols = images.dims[2];
    p.pixels = std::move(images.data);
    p.labels = std::move(labels.data);
    p.label_file = label_file;
  }

  float scale_;
  bool sequential_;
  bool has_test_ = false;
  int classes_ = 0;
  Part splits_[2];
};

}  // namespace unroll::idx
