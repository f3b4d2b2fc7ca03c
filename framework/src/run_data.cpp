#include "unroll/host/run_data.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "unroll/error.hpp"
#include "unroll/files.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/standardize.hpp"
#include "unroll/schema.hpp"
#include "unroll/vocabulary.hpp"

namespace unroll {

std::shared_ptr<Dataset> prepare_run_data(const Node& data_block, std::shared_ptr<Dataset> data,
                                          std::span<const std::size_t> train, const std::string& run_dir) {
  const bool write = !run_dir.empty();  // "" on the ranks of a data-parallel run that do not write
  if (const auto names = data->class_names(); write && !names.empty())
    write_file_atomic(run_dir + "/classes.json", nlohmann::json(names).dump(1) + "\n");
  if (const auto names = data->feature_names(); write && !names.empty())
    write_file_atomic(run_dir + "/features.json", nlohmann::json(names).dump(1) + "\n");
  if (const Vocabulary v = data->vocabulary(); write && !v.empty()) write_vocabulary(run_dir + "/vocab.txt", v);
  const Node* flag = data_block.find("standardize");
  if (!flag || !flag->as_bool().value_or(false)) return data;
  Standardization s = fit_standardization(*data, train);
  if (write) save_standardization(run_dir + "/standardize.json", s);
  return standardized(std::move(data), std::move(s));
}

std::shared_ptr<Dataset> apply_run_data(std::shared_ptr<Dataset> data, const std::string& run_dir) {
  const std::string path = run_dir + "/standardize.json";
  if (!std::filesystem::exists(path)) return data;
  Standardization s = load_standardization(path);
  if (s.mean.size() != data->info().input_size)
    throw Error(path + ": the run was trained on " + std::to_string(s.mean.size()) + " input features, the data has " +
                std::to_string(data->info().input_size));
  return standardized(std::move(data), std::move(s));
}

Node with_run_vocab(const Node& data_block, const Schema& schema, const std::string& run_dir) {
  const std::string path = run_dir + "/vocab.txt";
  const OptionSpec* spec = schema.find("vocab");
  if (!spec || spec->type != OptType::String || !std::filesystem::exists(path)) return data_block;
  const Node* given = data_block.find("vocab");
  if (given && !given->text().empty()) return data_block;  // explicit: check_run_vocab compares
  Node b = data_block;
  b.set("vocab", Node::scalar(std::filesystem::absolute(path).string(), SourceLoc{path, 0, 0}));
  return b;
}

std::shared_ptr<Dataset> build_run_dataset(const Node& data_block, PluginHost& host, BuildContext& ctx,
                                           const std::string& resume_dir) {
  if (resume_dir.empty()) return host.build<Dataset>(Kind::Dataset, data_block, ctx);
  const Schema& schema = host.entry(Kind::Dataset, data_block.at("kind").text()).schema;
  auto data = host.build<Dataset>(Kind::Dataset, with_run_vocab(data_block, schema, resume_dir), ctx);
  check_run_vocab(*data, resume_dir);
  return data;
}

void check_run_vocab(const Dataset& data, const std::string& run_dir) {
  const std::string path = run_dir + "/vocab.txt";
  if (!std::filesystem::exists(path)) return;
  const Vocabulary now = data.vocabulary();
  if (now.empty()) return;  // indices from elsewhere (an .npy file): the embedding checks their range
  const Vocabulary saved = read_vocabulary(path);
  const std::size_t n = std::min(saved.tokens.size(), now.tokens.size());
  for (std::size_t i = 0; i < n; ++i)
    if (saved.tokens[i] != now.tokens[i])
      throw Error(path + ": the data's vocabulary differs from the run's at index " + std::to_string(i) + " ('" +
                  escape_token(now.tokens[i]) + "' instead of '" + escape_token(saved.tokens[i]) +
                  "'); the model's indices would mean other tokens (leave the data's `vocab` empty to use the run's)");
  if (saved.tokens.size() != now.tokens.size())
    throw Error(path + ": the run's vocabulary has " + std::to_string(saved.tokens.size()) + " tokens, the data's " +
                std::to_string(now.tokens.size()) + " (leave the data's `vocab` empty to use the run's)");
}

namespace {
std::vector<std::string> names_file(const std::string& path) {
  if (!std::filesystem::exists(path)) return {};
  try {
    return nlohmann::json::parse(read_file(path)).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": expected a JSON list of names (" + e.what() + ")");
  }
}
}  // namespace

std::vector<std::string> run_class_names(const std::string& run_dir) { return names_file(run_dir + "/classes.json"); }
std::vector<std::string> run_feature_names(const std::string& run_dir) {
  return names_file(run_dir + "/features.json");
}

}  // namespace unroll
