#include "unroll/host/standardize.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "unroll/error.hpp"
#include "unroll/files.hpp"

namespace unroll {

namespace {

class Standardized final : public Dataset {
 public:
  Standardized(std::shared_ptr<Dataset> inner, Standardization s) : inner_(std::move(inner)), s_(std::move(s)) {
    if (s_.mean.size() != inner_->info().input_size)
      throw Error("standardization has " + std::to_string(s_.mean.size()) + " features, the data has " +
                  std::to_string(inner_->info().input_size));
  }
  DatasetInfo info() const override { return inner_->info(); }
  std::size_t size(Split split) const override { return inner_->size(split); }
  void batch(Split split, std::span<const std::size_t> indices, Seq& x, Targets& y) override {
    inner_->batch(split, indices, x, y);
    x.data = ((x.data.colwise() - s_.mean).array().colwise() * s_.scale.array()).matrix();
  }

 private:
  std::shared_ptr<Dataset> inner_;
  Standardization s_;
};

}  // namespace

Standardization fit_standardization(Dataset& data, std::span<const std::size_t> train, int batch) {
  const int F = data.info().input_size;
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(F), sq = Eigen::VectorXd::Zero(F);
  double count = 0;
  Seq x;
  Targets y;
  // Pass 1: the mean; pass 2: squared deviations from it (no cancellation for large offsets).
  for (int pass = 0; pass < 2; ++pass) {
    const Eigen::VectorXd mean = count > 0 ? Eigen::VectorXd(sum / count) : Eigen::VectorXd::Zero(F);
    for (std::size_t from = 0; from < train.size(); from += static_cast<std::size_t>(batch)) {
      const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(batch), train.size() - from);
      data.batch(Split::Train, train.subspan(from, n), x, y);
      const Eigen::MatrixXd d = x.data.cast<double>();
      if (pass == 0) {
        sum += d.rowwise().sum();
        count += static_cast<double>(d.cols());
      } else {
        sq += (d.colwise() - mean).array().square().matrix().rowwise().sum();
      }
    }
  }
  if (count == 0) throw Error("standardize: the training split is empty");
  Standardization s;
  s.mean = (sum / count).cast<Scalar>();
  s.scale.resize(F);
  for (int f = 0; f < F; ++f) {
    const double sd = std::sqrt(sq[f] / count);
    s.scale[f] = sd > 1e-12 ? static_cast<Scalar>(1.0 / sd) : Scalar(1);
  }
  return s;
}

std::shared_ptr<Dataset> standardized(std::shared_ptr<Dataset> inner, Standardization s) {
  return std::make_shared<Standardized>(std::move(inner), std::move(s));
}

void save_standardization(const std::string& path, const Standardization& s) {
  nlohmann::json j;
  j["features"] = s.mean.size();
  j["mean"] = std::vector<double>(s.mean.data(), s.mean.data() + s.mean.size());
  std::vector<double> sd(static_cast<std::size_t>(s.scale.size()));
  for (Eigen::Index f = 0; f < s.scale.size(); ++f) sd[static_cast<std::size_t>(f)] = 1.0 / s.scale[f];
  j["std"] = sd;
  write_file_atomic(path, j.dump(1) + "\n");
}

Standardization load_standardization(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.contains("mean") || !j.contains("std") || !j["mean"].is_array() || !j["std"].is_array() ||
      j["mean"].size() != j["std"].size())
    throw Error(path + ": expected arrays 'mean' and 'std' of equal length");
  Standardization s;
  const auto F = static_cast<Eigen::Index>(j["mean"].size());
  s.mean.resize(F);
  s.scale.resize(F);
  for (Eigen::Index f = 0; f < F; ++f) {
    const auto& m = j["mean"][static_cast<std::size_t>(f)];
    const auto& d = j["std"][static_cast<std::size_t>(f)];
    if (!m.is_number() || !d.is_number() || d.get<double>() <= 0)
      throw Error(path + ": feature " + std::to_string(f) + " needs a numeric mean and a positive std");
    s.mean[f] = m.get<Scalar>();
    s.scale[f] = static_cast<Scalar>(1.0 / d.get<double>());
  }
  return s;
}

}  // namespace unroll
