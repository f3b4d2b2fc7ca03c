#include "unroll/host/npy.hpp"

#include <cstring>
#include <regex>

#include "unroll/error.hpp"
#include "unroll/host/files.hpp"

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

Matrix load_npy(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw Error(path + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
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
  if (bytes.size() < offset + header_len) throw Error(path + ": truncated .npy header");
  const std::string header = bytes.substr(offset, header_len);
  if (header.find("'<f4'") == std::string::npos)
    throw Error(path + ": expected float32 data ('<f4'), header is " + header);
  const bool fortran = header.find("'fortran_order': True") != std::string::npos;
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('shape':\s*\(\s*(\d+)\s*,?\s*(\d*)\s*,?\s*\))")))
    throw Error(path + ": cannot read the shape from the header " + header);
  const Eigen::Index rows = std::stol(m[1].str());
  const Eigen::Index cols = m[2].str().empty() ? 1 : std::stol(m[2].str());
  const size_t need = sizeof(Scalar) * static_cast<size_t>(rows * cols);
  if (bytes.size() - offset - header_len != need)
    throw Error(path + ": expected " + std::to_string(need) + " data bytes for shape (" + std::to_string(rows) + ", " +
                std::to_string(cols) + "), found " + std::to_string(bytes.size() - offset - header_len));
  const char* data = bytes.data() + offset + header_len;
  if (fortran) {
    Matrix out(rows, cols);
    std::memcpy(out.data(), data, need);
    return out;
  }
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm(rows, cols);
  std::memcpy(rm.data(), data, need);
  return rm;
}

}  // namespace unroll
