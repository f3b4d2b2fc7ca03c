#pragma once
// Per-feature standardization of a dataset's inputs, `data: {standardize: true}` (any dataset):
// x' = (x - mean) / std per input feature, with mean and std computed over the training split
// only — after the validation hold-out, so neither validation nor test data leaks into them. They
// are saved in the run folder (standardize.json) so that eval and predict apply exactly the
// numbers the model was trained with, whatever data they are given later.
#include <memory>
#include <span>
#include <string>

#include "unroll/config_node.hpp"
#include "unroll/dataset.hpp"

namespace unroll {

/// x' = (x - mean) * scale, scale = 1 / std (1 for a constant feature, which is only centred).
struct Standardization {
  Vector mean, scale;
};

/// Mean and standard deviation of each input feature over the samples `train` of the Train
/// split, every step of a sequence counted (two passes, accumulated in double).
Standardization fit_standardization(Dataset& data, std::span<const std::size_t> train, int batch = 1000);

/// A dataset whose batches are `inner`'s, standardized.
std::shared_ptr<Dataset> standardized(std::shared_ptr<Dataset> inner, Standardization s);

/// standardize.json: {"features": F, "mean": [...], "std": [...]}, written atomically.
void save_standardization(const std::string& path, const Standardization& s);
/// Read standardize.json; the error names the file and what is wrong.
Standardization load_standardization(const std::string& path);

}  // namespace unroll
