#include "unroll/host/model_summary.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace unroll {

namespace {

std::string bytes_text(double b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char s[32];
  std::snprintf(s, sizeof s, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
  return s;
}

std::string with_commas(long long n) {
  std::string s = std::to_string(n), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

}  // namespace

std::string model_summary(Model& model, const Node& model_blocks, int steps, int batch, const std::string& optimizer) {
  struct Row {
    std::string name, kind, shape;
    long long params = 0;
  };
  std::vector<Row> rows;
  // One zero sequence of batch 1 through the layers measures each output's steps.
  Seq in;
  in.resize(model.input_size(), steps, 1);
  in.data.setZero();
  model.reset_state(1);
  std::vector<Seq> outs(model.layers().size());
  const Seq* x = &in;
  long long total = 0, activations = static_cast<long long>(model.input_size()) * steps;
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    auto& layer = model.layers()[i];
    layer->forward(*x, outs[i], Mode::Eval);
    Row r;
    r.name = layer->name();
    r.kind = i < model_blocks.items().size() ? model_blocks.items()[i].at("kind").text() : "?";
    r.shape = std::to_string(outs[i].features()) + " x " + std::to_string(outs[i].steps);
    for (Param* p : layer->params()) r.params += p->value.size();
    total += r.params;
    activations += static_cast<long long>(outs[i].features()) * outs[i].steps;
    rows.push_back(r);
    x = &outs[i];
  }
  std::size_t w_name = 5, w_kind = 4, w_shape = 23;
  for (const auto& r : rows) {
    w_name = std::max(w_name, r.name.size());
    w_kind = std::max(w_kind, r.kind.size());
  }
  std::string out;
  char line[512];
  const int wn = static_cast<int>(w_name), wk = static_cast<int>(w_kind), ws = static_cast<int>(w_shape);
  std::snprintf(line, sizeof line, "  %-*s  %-*s  %-*s  %12s\n", wn, "layer", wk, "kind", ws,
                "output (features x steps)", "parameters");
  out += line;
  out += "  " + std::string(w_name + w_kind + w_shape + 18, '-') + "\n";
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "  %-*s  %-*s  %-*s  %12s\n", wn, r.name.c_str(), wk, r.kind.c_str(), ws,
                  r.shape.c_str(), with_commas(r.params).c_str());
    out += line;
  }
  const int state = optimizer == "adam" || optimizer == "adamw" ? 2 : 1;
  const double param_bytes = 4.0 * static_cast<double>(total) * (2 + state);
  const double act_bytes = 4.0 * 2 * static_cast<double>(activations) * batch;
  out += "  " + std::string(w_name + w_kind + w_shape + 18, '-') + "\n";
  out += "  total parameters: " + with_commas(total) + " (" + bytes_text(4.0 * static_cast<double>(total)) + ")\n";
  out += "  estimated training memory: " + bytes_text(param_bytes + act_bytes) + " = parameters, gradients and " +
         optimizer + " state " + bytes_text(param_bytes) + " + outputs and their gradients for a batch of " +
         std::to_string(batch) + " " + bytes_text(act_bytes) + " (layer caches come on top)\n";
  return out;
}

}  // namespace unroll
