#pragma once
// NumPy .npy files (format version 1.0, '<f4', Fortran order since Eigen is column-major), so
// `numpy.load("dense0.W.npy")` reads any parameter of a checkpoint.
#include <string>

#include "unroll/types.hpp"

namespace unroll {

/// Write m to path atomically (temp file + rename).
void save_npy(const std::string& path, const Matrix& m);
/// Read a 1-D or 2-D float32 .npy (either order). Error names the file and what is wrong.
Matrix load_npy(const std::string& path);
/// The same from the bytes of a .npy file; `path` names it in errors. Shapes whose byte size
/// overflows, or that the data does not match exactly, are errors before anything is allocated.
Matrix parse_npy(const std::string& bytes, const std::string& path);

}  // namespace unroll
