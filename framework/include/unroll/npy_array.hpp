#pragma once
// Reading a researcher's NumPy arrays: a `.npy` file, or a named array inside a `.npz` archive,
// of any common numeric dtype, without loading it. A `.npy` file and an uncompressed `.npz`
// member (np.savez) are memory-mapped, so a file larger than RAM can be trained on: the data
// stays in its own dtype on disk and only the samples of a batch are converted to float. A
// compressed member (np.savez_compressed) is inflated once into memory, still in its own dtype.
//
// Every problem — bad magic, unsupported dtype, a header that claims more data than the file
// holds, a missing member — is an Error naming the file (and member) and what is wrong.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace unroll {

/// One NumPy array, read-only. Elements are addressed by their C-order (row-major) flat index
/// whatever the file's order, so element (n, t, f) of an [N, T, F] array is (n*T + t)*F + f.
class NpyArray {
 public:
  enum class Type { Float32, Float64, Int8, UInt8, Int16, UInt16, Int32, UInt32, Int64, UInt64, Bool };

  /// An empty array (no shape, no data), to be assigned from open() or open_npz().
  NpyArray() = default;

  /// Open a .npy file.
  static NpyArray open(const std::string& path);
  /// Open the array `name` of a .npz archive (the member `name`.npy).
  static NpyArray open_npz(const std::string& path, const std::string& name);
  /// Names of the arrays in a .npz archive, in archive order.
  static std::vector<std::string> npz_names(const std::string& path);

  /// "X.npy" or "data.npz:x" — what error messages call this array.
  const std::string& source() const { return source_; }
  const std::vector<std::size_t>& shape() const { return shape_; }
  std::size_t ndim() const { return shape_.size(); }
  /// Number of elements (product of the shape).
  std::size_t size() const { return size_; }
  Type type() const { return type_; }
  /// NumPy's name of the dtype: "float32", "uint8", ...
  std::string type_name() const;
  bool is_integer() const { return type_ != Type::Float32 && type_ != Type::Float64; }
  /// Shape as NumPy prints it: "(60000, 28, 28)".
  std::string shape_text() const;

  /// Element `i` (C-order flat index) as double; int64 beyond 2^53 rounds.
  double at(std::size_t i) const;
  /// Element `i` as int64 (integer and bool arrays; floats are truncated toward zero, and a
  /// float outside int64's range or NaN is an Error naming the array and the element).
  int64_t integer(std::size_t i) const;
  /// Elements [first, first + count) in C order, converted to float, into out.
  void to_float(std::size_t first, std::size_t count, float* out) const;

  /// The bytes an array points into (opaque): shared by copies of the array.
  struct Storage;

 private:
  void parse(const char* bytes, std::size_t length, const std::string& where);
  std::size_t offset(std::size_t i) const;  // byte offset of C-order element i

  std::shared_ptr<const Storage> storage_;
  const char* data_ = nullptr;
  std::string source_;
  std::vector<std::size_t> shape_;
  std::size_t size_ = 0, item_ = 0;
  Type type_ = Type::Float32;
  bool fortran_ = false, swap_ = false;
};

/// Write a C-order .npy array (float32 or int32) of `shape` atomically (temp name + rename).
void write_npy_array(const std::string& path, const float* data, const std::vector<std::size_t>& shape);
void write_npy_array(const std::string& path, const int32_t* data, const std::vector<std::size_t>& shape);

}  // namespace unroll
