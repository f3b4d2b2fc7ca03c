#include "unroll/host/checkpoint.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "unroll/error.hpp"
#include "unroll/host/files.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/npy.hpp"
#include "unroll/optimizer.hpp"

namespace fs = std::filesystem;

namespace unroll {

namespace {
// File names keep the tensor name readable: "dense0.W" -> "dense0.W.npy", "dense0.W/m" -> "dense0.W@m.npy".
std::string file_for(const std::string& name) {
  std::string f = name;
  for (char& c : f)
    if (c == '/') c = '@';
  return f + ".npy";
}
}  // namespace

void save_checkpoint(const std::string& dir, Model& model, Optimizer& optimizer, int epoch, long long step) {
  const std::string tmp = dir + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  nlohmann::ordered_json manifest;
  manifest["epoch"] = epoch;
  manifest["step"] = step;
  auto add = [&](const char* section, const std::string& name, const Matrix& m) {
    save_npy(tmp + "/" + file_for(name), m);
    manifest[section].push_back({{"name", name}, {"shape", {m.rows(), m.cols()}}, {"file", file_for(name)}});
  };
  manifest["params"] = nlohmann::json::array();
  for (Param* p : model.params()) add("params", p->name, p->value);
  manifest["buffers"] = nlohmann::json::array();
  for (auto& [name, m] : model.buffers()) add("buffers", name, *m);
  manifest["optimizer"] = nlohmann::json::array();
  for (auto& [name, m] : optimizer.state()) add("optimizer", name, m);
  write_file_atomic(tmp + "/manifest.json", manifest.dump(2) + "\n");
  // Swap: the old checkpoint is removed only after the new one is complete.
  const std::string old = dir + ".old";
  fs::remove_all(old);
  if (fs::exists(dir)) fs::rename(dir, old);
  fs::rename(tmp, dir);
  fs::remove_all(old);
}

}  // namespace unroll
