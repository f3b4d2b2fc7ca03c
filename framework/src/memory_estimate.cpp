#include "unroll/host/memory_estimate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "train_settings.hpp"
#include "unroll/error.hpp"
#include "unroll/host/model.hpp"
#include "unroll/host/plugin_host.hpp"

namespace unroll {

namespace {
constexpr double kFloat = sizeof(float);
constexpr double kOptimizerSlots = 2;  // Adam's m and v: the most a built-in optimizer keeps

// Floats a recurrent layer keeps for backward over a forward of T steps x B samples (train: with
// checkpoints; eval: none), given train.bptt.memory; per_step is its footprint's floats_per_column.
double kept_floats(const StepStorage& s, double per_step, double state, double T, double B, bool train,
                   std::string& note) {
  const double full = per_step * T * B;
  if (s.full()) return full;
  if (s.every > 0) {
    const double k = std::min<double>(s.every, T);
    note = "bptt.memory: a checkpoint every " + std::to_string(static_cast<long long>(k)) + " steps";
    return per_step * k * B + (train ? state * (std::ceil(T / k) + 1) * B : 0.0);
  }
  note = "bptt.memory: within the budget of " + format_bytes(s.budget_bytes);
  return std::min(full, s.budget_bytes / kFloat);  // the layer's segments fit the budget (recurrent.hpp)
}

std::string count_text(double n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, n < 1e15 ? "%.0f" : "%.3g", n);
  return buf;
}
}  // namespace

std::string format_bytes(double bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) {
    bytes /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

std::string MemoryEstimate::text() const {
  std::ostringstream s;
  for (const auto& l : layers)
    s << "  " << l.name << " (" << l.kind << "): " << count_text(l.params) << " parameters, " << format_bytes(l.bytes)
      << (l.note.empty() ? "" : " (" + l.note + ")") << "\n";
  s << "  total: " << format_bytes(total_bytes) << "\n";
  return s.str();
}

MemoryEstimate estimate_memory(const Node& config, const DatasetInfo& data, const PluginHost& host) {
  const Node& train = config.at("train");
  const double steps = std::max(data.steps, 1), batch = *train.at("batch").as_int(),
               eval_batch = *train.at("eval_batch").as_int();
  const double columns = steps * std::max(batch, eval_batch);
  const StepStorage storage = read_train_settings(train).memory;
  MemoryEstimate e;
  double in = data.input_size;
  int index = 0;
  for (const Node& given : config.at("model").items()) {
    const std::string kind = given.at("kind").text();
    const Node block = with_data_vocab(given, host.entry(Kind::Layer, kind).schema, data.input_vocab);
    LayerMemory m;
    m.kind = kind;
    m.name = block.find("name") && !block.find("name")->text().empty() ? block.find("name")->text()
                                                                       : kind + std::to_string(index);
    const ComponentTable::Entry& entry = host.entry(Kind::Layer, kind);
    const Options opts(block, &entry.schema);
    LayerFootprint f;
    if (entry.footprint) {
      f = entry.footprint(opts, static_cast<int>(std::min(in, 2147483647.0)));
    } else {
      const OptionSpec* units = entry.schema.find("units");
      f.output_size = units && units->type == OptType::Int ? opts.i("units") : static_cast<int>(in);
    }
    m.output_size = f.output_size;
    m.params = f.params;
    // Value + gradient + optimizer slots; output and the gradient into it; the layer's cache.
    // A recurrent layer under train.bptt.memory keeps one segment's steps and the checkpoints.
    const double per_step = static_cast<double>(f.floats_per_column);
    const double cache =
        f.state_floats > 0 ? std::max(kept_floats(storage, per_step, f.state_floats, steps, batch, true, m.note),
                                      kept_floats(storage, per_step, f.state_floats, steps, eval_batch, false, m.note))
                           : columns * per_step;
    m.bytes = kFloat * (f.params * (2 + kOptimizerSlots) + columns * 2.0 * f.output_size + cache);
    e.total_bytes += m.bytes;
    e.layers.push_back(std::move(m));
    in = f.output_size;
    ++index;
  }
  return e;
}

double available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

void check_memory(const MemoryEstimate& e, double available, const Node& config) {
  if (available <= 0 || e.total_bytes <= available || e.layers.empty()) return;
  const auto worst = std::max_element(e.layers.begin(), e.layers.end(),
                                      [](const LayerMemory& a, const LayerMemory& b) { return a.bytes < b.bytes; });
  const Node& block = config.at("model").items()[static_cast<size_t>(worst - e.layers.begin())];
  throw Error(block.loc().str() + ": the model needs about " + format_bytes(e.total_bytes) + " but only " +
              format_bytes(available) + " is available; layer " + worst->name + " (" + worst->kind + ", " +
              count_text(worst->params) + " parameters, " + std::to_string(worst->output_size) +
              " outputs) alone needs " + format_bytes(worst->bytes) +
              " (parameters with gradients and optimizer state, activations for batch x steps). Per layer:\n" +
              e.text());
}

}  // namespace unroll
