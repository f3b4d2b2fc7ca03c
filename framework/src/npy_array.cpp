#include "unroll/npy_array.hpp"

#include <minizip/unzip.h>

#include <bit>
#include <boost/iostreams/device/mapped_file.hpp>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <limits>
#include <type_traits>

#include "unroll/error.hpp"
#include "unroll/files.hpp"

namespace fs = std::filesystem;

namespace unroll {

// The bytes an array points into: a memory-mapped file, or an inflated .npz member.
struct NpyArray::Storage {
  boost::iostreams::mapped_file_source map;
  std::vector<char> owned;
};

namespace {

std::shared_ptr<NpyArray::Storage> map_file(const std::string& path, const char* what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(path + ": no such " + what + " file");
  const auto bytes = fs::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read its size (" + ec.message() + ")");
  auto s = std::make_shared<NpyArray::Storage>();
  if (bytes == 0) return s;  // mapping an empty file fails; the header check reports it
  try {
    s->map.open(path);
  } catch (const std::exception& e) {
    throw Error(path + ": cannot memory-map the file (" + e.what() + ")");
  }
  return s;
}

/// The header of a .npy file is a Python dict literal:
///   {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }
/// This reads exactly that grammar (quoted keys; string, bool or int-tuple values).
struct Header {
  std::string descr;
  bool fortran = false;
  std::vector<std::size_t> shape;
  bool has_descr = false, has_order = false, has_shape = false;
};

Header parse_header(const std::string& h, const std::string& where) {
  Header out;
  std::size_t p = 0;
  auto fail = [&](const std::string& why) -> Error {
    return Error(where + ": malformed .npy header (" + why + " at character " + std::to_string(p) + "): " + h);
  };
  auto ws = [&] {
    while (p < h.size() && std::isspace(static_cast<unsigned char>(h[p]))) ++p;
  };
  auto expect = [&](char c) {
    ws();
    if (p >= h.size() || h[p] != c) throw fail(std::string("expected '") + c + "'");
    ++p;
  };
  auto quoted = [&] {
    ws();
    if (p >= h.size() || (h[p] != '\'' && h[p] != '"')) throw fail("expected a quoted string");
    const char q = h[p++];
    const std::size_t end = h.find(q, p);
    if (end == std::string::npos) throw fail("unterminated string");
    std::string s = h.substr(p, end - p);
    p = end + 1;
    return s;
  };
  expect('{');
  for (;;) {
    ws();
    if (p < h.size() && h[p] == '}') break;
    const std::string key = quoted();
    expect(':');
    ws();
    if (key == "descr") {
      if (p < h.size() && h[p] == '[')
        throw Error(where +
                    ": structured arrays (a record dtype) are not supported; save one plain numeric array "
                    "per file");
      out.descr = quoted();
      out.has_descr = true;
    } else if (key == "fortran_order") {
      if (h.compare(p, 4, "True") == 0) {
        out.fortran = true;
        p += 4;
      } else if (h.compare(p, 5, "False") == 0) {
        p += 5;
      } else {
        throw fail("fortran_order must be True or False");
      }
      out.has_order = true;
    } else if (key == "shape") {
      expect('(');
      for (;;) {
        ws();
        if (p < h.size() && h[p] == ')') break;
        if (p >= h.size() || !std::isdigit(static_cast<unsigned char>(h[p]))) throw fail("expected a dimension");
        std::size_t v = 0;
        while (p < h.size() && std::isdigit(static_cast<unsigned char>(h[p]))) {
          const std::size_t d = static_cast<std::size_t>(h[p++] - '0');
          if (v > (std::numeric_limits<std::size_t>::max() - d) / 10) throw fail("dimension too large");
          v = v * 10 + d;
        }
        out.shape.push_back(v);
        ws();
        if (p < h.size() && h[p] == ',') ++p;
      }
      ++p;
      out.has_shape = true;
    } else {
      throw fail("unknown key '" + key + "'");
    }
    ws();
    if (p < h.size() && h[p] == ',') ++p;
  }
  if (!out.has_descr || !out.has_order || !out.has_shape)
    throw Error(where + ": .npy header lacks '" +
                std::string(!out.has_descr   ? "descr"
                            : !out.has_order ? "fortran_order"
                                             : "shape") +
                "': " + h);
  return out;
}

template <class T>
T load(const char* p, bool swap) {
  T v;
  std::memcpy(&v, p, sizeof v);
  if (swap && sizeof v > 1) {
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    for (std::size_t i = 0; i < sizeof v / 2; ++i) std::swap(b[i], b[sizeof v - 1 - i]);
    std::memcpy(&v, b, sizeof v);
  }
  return v;
}

template <class F>
auto dispatch(NpyArray::Type t, F&& f) {
  using T = NpyArray::Type;
  switch (t) {
    case T::Float32: return f(float{});
    case T::Float64: return f(double{});
    case T::Int8: return f(int8_t{});
    case T::UInt8: return f(uint8_t{});
    case T::Bool: return f(uint8_t{});
    case T::Int16: return f(int16_t{});
    case T::UInt16: return f(uint16_t{});
    case T::Int32: return f(int32_t{});
    case T::UInt32: return f(uint32_t{});
    case T::Int64: return f(int64_t{});
    case T::UInt64: return f(uint64_t{});
  }
  return f(float{});
}

}  // namespace

void NpyArray::parse(const char* b, std::size_t n, const std::string& where) {
  if (n < 10 || std::memcmp(b, "\x93NUMPY", 6) != 0)
    throw Error(where + ": not a .npy file (it does not start with the magic \\x93NUMPY" +
                (n < 10 ? ", and it has only " + std::to_string(n) + " bytes" : std::string()) + ")");
  const int major = static_cast<unsigned char>(b[6]);
  std::size_t header_len, at;
  if (major == 1) {
    header_len = static_cast<unsigned char>(b[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8);
    at = 10;
  } else if (major == 2 || major == 3) {
    if (n < 12) throw Error(where + ": truncated .npy header (" + std::to_string(n) + " bytes)");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<std::size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
    at = 12;
  } else {
    throw Error(where + ": unsupported .npy format version " + std::to_string(major) + " (1, 2 and 3 are read)");
  }
  if (n - at < header_len)
    throw Error(where + ": truncated .npy header: it claims " + std::to_string(header_len) + " bytes, the file has " +
                std::to_string(n - at) + " after the preamble");
  const Header h = parse_header(std::string(b + at, header_len), where);

  const std::string& d = h.descr;
  if (d.size() < 3) throw Error(where + ": unsupported dtype '" + d + "'");
  const char order = d[0];
  const std::string code = d.substr(1);
  struct Known {
    const char* code;
    Type type;
  };
  static const Known known[] = {{"f4", Type::Float32}, {"f8", Type::Float64}, {"i1", Type::Int8},  {"u1", Type::UInt8},
                                {"i2", Type::Int16},   {"u2", Type::UInt16},  {"i4", Type::Int32}, {"u4", Type::UInt32},
                                {"i8", Type::Int64},   {"u8", Type::UInt64},  {"b1", Type::Bool}};
  bool found = false;
  for (const auto& k : known)
    if (code == k.code) {
      type_ = k.type;
      found = true;
    }
  if (!found || (order != '<' && order != '>' && order != '|' && order != '='))
    throw Error(where + ": unsupported dtype '" + d +
                "'; supported: float32, float64, int8/16/32/64, uint8/16/32/64, bool (convert with "
                "x.astype(np.float32))");
  item_ = static_cast<std::size_t>(code[1] - '0');
  swap_ = order == '>' && item_ > 1 && std::endian::native == std::endian::little;
  fortran_ = h.fortran;
  shape_ = h.shape;
  size_ = 1;
  for (std::size_t s : shape_) {
    if (s != 0 && size_ > std::numeric_limits<std::size_t>::max() / s / item_)
      throw Error(where + ": shape " + shape_text() + " is too large");
    size_ *= s;
  }
  const std::size_t data_at = at + header_len, need = size_ * item_, have = n - data_at;
  if (have < need)
    throw Error(where + ": truncated data: the header claims shape " + shape_text() + " of " + type_name() + " (" +
                std::to_string(need) + " bytes), the file holds " + std::to_string(have));
  if (have > need)
    throw Error(where + ": " + std::to_string(have - need) + " bytes after the data of shape " + shape_text() +
                " — not a single .npy array");
  data_ = b + data_at;
}

NpyArray NpyArray::open(const std::string& path) {
  NpyArray a;
  auto s = map_file(path, ".npy");
  a.storage_ = s;
  a.source_ = path;
  a.parse(s->map.is_open() ? s->map.data() : "", s->map.is_open() ? s->map.size() : 0, path);
  return a;
}

namespace {

/// An open .npz archive (minizip), closed on scope exit.
struct Zip {
  unzFile z = nullptr;
  explicit Zip(const std::string& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error(path + ": no such .npz file");
    z = unzOpen64(path.c_str());
    if (!z) throw Error(path + ": not a .npz archive (no zip central directory: not a zip file, or a truncated one)");
  }
  ~Zip() {
    if (z) unzClose(z);
  }
  Zip(const Zip&) = delete;
  Zip& operator=(const Zip&) = delete;
};

std::string current_name(unzFile z, unz_file_info64* info) {
  char name[4096];
  if (unzGetCurrentFileInfo64(z, info, name, sizeof name, nullptr, 0, nullptr, 0) != UNZ_OK) return {};
  return name;
}

}  // namespace

std::vector<std::string> NpyArray::npz_names(const std::string& path) {
  Zip zip(path);
  std::vector<std::string> names;
  for (int r = unzGoToFirstFile(zip.z); r == UNZ_OK; r = unzGoToNextFile(zip.z)) {
    unz_file_info64 info;
    std::string n = current_name(zip.z, &info);
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".npy") == 0) n.resize(n.size() - 4);
    names.push_back(n);
  }
  return names;
}

NpyArray NpyArray::open_npz(const std::string& path, const std::string& name) {
  const std::string where = path + ":" + name;
  Zip zip(path);
  const std::string member = name + ".npy";
  if (unzLocateFile(zip.z, member.c_str(), 1) != UNZ_OK) {
    std::string have;
    for (const auto& n : npz_names(path)) have += (have.empty() ? "" : ", ") + n;
    throw Error(path + ": no array '" + name + "' in the archive; it holds: " + (have.empty() ? "nothing" : have));
  }
  unz_file_info64 info;
  current_name(zip.z, &info);
  if (unzOpenCurrentFile(zip.z) != UNZ_OK) throw Error(where + ": cannot open the archive member");
  NpyArray a;
  a.source_ = where;
  if (info.compression_method == 0) {
    // Stored (np.savez): the member's bytes lie in the archive as they are; map them in place.
    const ZPOS64_T at = unzGetCurrentFileZStreamPos64(zip.z);
    unzCloseCurrentFile(zip.z);
    auto s = map_file(path, ".npz");
    const std::size_t total = s->map.is_open() ? s->map.size() : 0;
    if (at > total || info.uncompressed_size > total - at)
      throw Error(where + ": truncated archive: the member claims " + std::to_string(info.uncompressed_size) +
                  " bytes at offset " + std::to_string(at) + ", the file has " + std::to_string(total));
    a.storage_ = s;
    a.parse(s->map.data() + at, static_cast<std::size_t>(info.uncompressed_size), where);
    return a;
  }
  if (info.compression_method != Z_DEFLATED) {
    unzCloseCurrentFile(zip.z);
    throw Error(where + ": compression method " + std::to_string(info.compression_method) +
                " is not supported (np.savez and np.savez_compressed write stored and deflated members)");
  }
  // Deflated (np.savez_compressed): inflate once, keeping the array's own dtype. The sizes come
  // from the archive's directory, which anyone can write: the buffer is allocated from the
  // claimed uncompressed size, so that size is checked first. Deflate expands at most 1032:1
  // (a 258-byte match per two bits), and the compressed bytes must lie in the file.
  std::error_code ec;
  const auto file_bytes = fs::file_size(path, ec);
  if (ec || info.compressed_size > file_bytes)
    throw Error(where + ": truncated archive: the member claims " + std::to_string(info.compressed_size) +
                " compressed bytes, the file has " + std::to_string(ec ? 0 : file_bytes));
  if (info.uncompressed_size / 1032 > info.compressed_size)
    throw Error(where + ": corrupt archive: the member claims " + std::to_string(info.uncompressed_size) +
                " bytes inflated from " + std::to_string(info.compressed_size) +
                ", more than deflate can expand (1032:1)");
  auto s = std::make_shared<Storage>();
  s->owned.resize(static_cast<std::size_t>(info.uncompressed_size));
  std::size_t got = 0;
  while (got < s->owned.size()) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(s->owned.size() - got, 1u << 30));
    const int r = unzReadCurrentFile(zip.z, s->owned.data() + got, chunk);
    if (r <= 0) {
      unzCloseCurrentFile(zip.z);
      throw Error(where + ": corrupt or truncated compressed member (read " + std::to_string(got) + " of " +
                  std::to_string(s->owned.size()) + " bytes)");
    }
    got += static_cast<std::size_t>(r);
  }
  if (unzCloseCurrentFile(zip.z) == UNZ_CRCERROR) throw Error(where + ": CRC mismatch: the member is corrupt");
  a.storage_ = s;
  a.parse(s->owned.data(), s->owned.size(), where);
  return a;
}

std::string NpyArray::type_name() const {
  static const char* const names[] = {"float32", "float64", "int8",  "uint8",  "int16", "uint16",
                                      "int32",   "uint32",  "int64", "uint64", "bool"};
  return names[static_cast<int>(type_)];
}

std::string NpyArray::shape_text() const {
  std::string s = "(";
  for (std::size_t i = 0; i < shape_.size(); ++i) s += (i ? ", " : "") + std::to_string(shape_[i]);
  return s + (shape_.size() == 1 ? ",)" : ")");
}

std::size_t NpyArray::offset(std::size_t i) const {
  if (!fortran_) return i * item_;
  // C-order index -> multi-index -> Fortran-order (first axis fastest) index.
  std::size_t f = 0, stride = 1;
  std::vector<std::size_t> idx(shape_.size());
  for (std::size_t d = shape_.size(); d-- > 0;) {
    idx[d] = i % shape_[d];
    i /= shape_[d];
  }
  for (std::size_t d = 0; d < shape_.size(); ++d) {
    f += idx[d] * stride;
    stride *= shape_[d];
  }
  return f * item_;
}

double NpyArray::at(std::size_t i) const {
  const char* p = data_ + offset(i);
  return dispatch(type_, [&](auto v) { return static_cast<double>(load<decltype(v)>(p, swap_)); });
}

int64_t NpyArray::integer(std::size_t i) const {
  const char* p = data_ + offset(i);
  return dispatch(type_, [&](auto v) {
    using T = decltype(v);
    const T e = load<T>(p, swap_);
    if constexpr (std::is_floating_point_v<T>) {
      // A float outside int64's range (or NaN) has no integer value: converting it is undefined
      // behaviour, not a large number (the npy_array fuzzer's first finding).
      if (!(e >= -0x1p63 && e < 0x1p63))
        throw Error(source_ + ": element " + std::to_string(i) + " (" + std::to_string(static_cast<double>(e)) +
                    ") has no int64 value");
    }
    return static_cast<int64_t>(e);
  });
}

void NpyArray::to_float(std::size_t first, std::size_t count, float* out) const {
  dispatch(type_, [&](auto v) {
    using T = decltype(v);
    if (!fortran_ && !swap_) {  // the common case: one typed, contiguous loop
      const char* p = data_ + first * item_;
      for (std::size_t k = 0; k < count; ++k) {
        T e;
        std::memcpy(&e, p + k * sizeof(T), sizeof(T));
        out[k] = static_cast<float>(e);
      }
    } else {
      for (std::size_t k = 0; k < count; ++k) out[k] = static_cast<float>(load<T>(data_ + offset(first + k), swap_));
    }
    return 0;
  });
}

namespace {

void write_npy(const std::string& path, const char* descr, const char* data, std::size_t item,
               const std::vector<std::size_t>& shape) {
  std::string sh = "(";
  std::size_t n = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    sh += (i ? ", " : "") + std::to_string(shape[i]);
    n *= shape[i];
  }
  sh += shape.size() == 1 ? ",)" : ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + sh + ", }";
  // magic(6) + version(2) + length(2) + header + '\n' is padded to a multiple of 64.
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(data, n * item);
  write_file_atomic(path, out);
}

}  // namespace

void write_npy_array(const std::string& path, const float* data, const std::vector<std::size_t>& shape) {
  write_npy(path, "<f4", reinterpret_cast<const char*>(data), sizeof(float), shape);
}
void write_npy_array(const std::string& path, const int32_t* data, const std::vector<std::size_t>& shape) {
  write_npy(path, "<i4", reinterpret_cast<const char*>(data), sizeof(int32_t), shape);
}

}  // namespace unroll
