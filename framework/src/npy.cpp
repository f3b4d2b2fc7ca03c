#include "unroll/npy.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "unroll/error.hpp"
#include "unroll/files.hpp"

namespace unroll {

void save_npy(const std::string& path, const Matrix& m) {
  std::string header = "{'descr': '<f4', 'fortran_order': True, 'shape': (" + std::to_string(m.rows()) + ", " +
                       std::to_string(m.cols()) + "), }";
  // Pad so that magic(6) + version(2) + length(2) + header + '\n' is a multiple of 64.
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(m.data()), sizeof(Scalar) * static_cast<size_t>(m.size()));
  write_file_atomic(path, out);
}

namespace {

// The header's 'shape': (R,) or (R, C), read by hand: the numbers are bounded here rather than
// by std::stol (an out-of-range shape once ended as "internal error: stol").
bool parse_shape(const std::string& header, std::vector<Eigen::Index>& dims) {
  size_t i = header.find("'shape'");
  if (i == std::string::npos) return false;
  i += 7;
  auto skip = [&] {
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
  };
  skip();
  if (i >= header.size() || header[i] != ':') return false;
  ++i;
  skip();
  if (i >= header.size() || header[i] != '(') return false;
  ++i;
  for (;;) {
    skip();
    if (i < header.size() && header[i] == ')') return true;
    if (dims.size() == 2) return false;  // at most two dimensions
    Eigen::Index v = 0;
    const auto [end, ec] = std::from_chars(header.data() + i, header.data() + header.size(), v);
    if (ec != std::errc() || v < 0) return false;
    dims.push_back(v);
    i = static_cast<size_t>(end - header.data());
    skip();
    if (i < header.size() && header[i] == ',')
      ++i;
    else if (i >= header.size() || header[i] != ')')
      return false;
  }
}

}  // namespace

Matrix load_npy(const std::string& path) { return parse_npy(read_file(path), path); }

Matrix parse_npy(const std::string& bytes, const std::string& path) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw Error(path + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  if (major < 1 || major > 3) throw Error(path + ": unsupported .npy format version " + std::to_string(major));
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else {
    if (bytes.size() < 12) throw Error(path + ": truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  }
  if (bytes.size() - offset < header_len) throw Error(path + ": truncated .npy header");
  const std::string header = bytes.substr(offset, header_len);
  if (header.find("'<f4'") == std::string::npos)
    throw Error(path + ": expected float32 data ('<f4'), header is " + header.substr(0, 200));
  const bool fortran = header.find("'fortran_order': True") != std::string::npos;
  std::vector<Eigen::Index> dims;
  if (!parse_shape(header, dims) || dims.empty())
    throw Error(path + ": cannot read a 1-D or 2-D shape from the header " + header.substr(0, 200));
  const Eigen::Index rows = dims[0], cols = dims.size() > 1 ? dims[1] : 1;
  // Each dimension on its own too: an empty (0, 2^47) array passes the product check, and
  // converting it from row-major order would still loop over every column.
  constexpr Eigen::Index kMaxDim = std::numeric_limits<int32_t>::max();
  if (rows > kMaxDim || cols > kMaxDim)
    throw Error(path + ": shape (" + std::to_string(rows) + ", " + std::to_string(cols) +
                ") is too large: a dimension is over " + std::to_string(kMaxDim));
  // Overflow-checked: a shape too large for memory is an error before anything is allocated.
  size_t need = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(rows), static_cast<size_t>(cols), &need) ||
      __builtin_mul_overflow(need, sizeof(Scalar), &need))
    throw Error(path + ": shape (" + std::to_string(rows) + ", " + std::to_string(cols) + ") is too large");
  const size_t have = bytes.size() - offset - header_len;
  if (have != need)
    throw Error(path + ": expected " + std::to_string(need) + " data bytes for shape (" + std::to_string(rows) + ", " +
                std::to_string(cols) + "), found " + std::to_string(have));
  const char* data = bytes.data() + offset + header_len;
  if (fortran || need == 0) {
    Matrix out(rows, cols);
    if (need) std::memcpy(out.data(), data, need);
    return out;
  }
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm(rows, cols);
  if (need) std::memcpy(rm.data(), data, need);
  return rm;
}

}  // namespace unroll
