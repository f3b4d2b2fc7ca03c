#include "unroll/host/model.hpp"

#include <chrono>
#include <new>
#include <sstream>

#include "unroll/error.hpp"
#include "unroll/host/config.hpp"
#include "unroll/host/diagnostics.hpp"
#include "unroll/host/plugin_host.hpp"
#include "unroll/host/run_marker.hpp"
#include "gemm_profile.hpp"

namespace unroll {

Node with_data_vocab(const Node& block, const Schema& schema, int input_vocab) {
  const OptionSpec* spec = schema.find("vocab");
  if (!spec || spec->type != OptType::Int || input_vocab <= 0) return block;
  const Node* given = block.find("vocab");
  const long long vocab = given ? given->as_int().value_or(0) : 0;
  if (vocab > 0 && vocab < input_vocab)
    throw Error(given->loc().str() + ": " + block.at("kind").text() + " has vocab " + std::to_string(vocab) +
                " but the data's tokens have " + std::to_string(input_vocab) +
                " indices; raise vocab or leave it at 0 to take the data's");
  if (vocab > 0) return block;
  Node filled = block;
  filled.set("vocab", Node::scalar(std::to_string(input_vocab), given ? given->loc() : block.loc()));
  return filled;
}

Model::Model(const Node& model, int input_size, const PluginHost& host, uint64_t seed, const std::string& base_dir,
             int input_vocab)
    : input_size_(input_size) {
  int in = input_size;
  int index = 0;
  for (const Node& given : model.items()) {
    const std::string kind = given.at("kind").text();
    const Node block = with_data_vocab(given, host.entry(Kind::Layer, kind).schema, input_vocab);
    std::string name = block.find("name") ? block.find("name")->text() : "";
    if (name.empty()) name = kind + std::to_string(index);
    HostBuildContext ctx(host, name, in, seed, base_dir);
    std::shared_ptr<Layer> layer;
    try {
      layer = host.build<Layer>(Kind::Layer, block, ctx);
    } catch (const std::bad_alloc&) {  // its parameters did not fit: say which layer
      throw Error(block.loc().str() + ": out of memory while building layer " + name + " (" + kind + ", " +
                  std::to_string(in) + " inputs); make it smaller or free memory");
    }
    layer->bind(LayerContext{name, in});
    in = layer->output_size();
    layers_.push_back(std::move(layer));
    kinds_.push_back(kind);
    ++index;
  }
  acts_.resize(layers_.size());
  grads_.resize(layers_.size());
}

void validate_initializers(Param& p, const PluginHost& host, Diagnostics& diag) {
  auto once = [&](Node& block) {
    if (block.is_null() || block.validated()) return;
    Node validated = validate_component(block, Kind::Initializer, host, diag);
    if (validated.validated()) block = std::move(validated);
  };
  once(p.init);
  for (InitBlock& b : p.blocks) once(b.init);
}

void initialize_param(Param& p, const PluginHost& host, uint64_t seed, const std::string& base_dir) {
  Diagnostics diag;
  validate_initializers(p, host, diag);
  diag.throw_if_any();
  auto fill = [&](Param& target, const Node& block) {
    HostBuildContext ctx(host, target.name, 0, seed, base_dir);
    auto init = host.build<Initializer>(Kind::Initializer, block, ctx);
    Rng rng = Rng::derive(seed, target.name);
    init->fill(target, rng);
  };
  if (!p.init.is_null()) fill(p, p.init);
  for (const InitBlock& b : p.blocks) {
    if (b.init.is_null()) continue;
    if (b.row0 < 0 || b.rows < 1 || b.row0 + b.rows > p.value.rows())
      throw Error(p.name + ": init block '" + b.block + "' covers rows [" + std::to_string(b.row0) + ", " +
                  std::to_string(b.row0 + b.rows) + ") of a parameter with " + std::to_string(p.value.rows()) +
                  " rows");
    // The block as a parameter of its own, so every initializer (orthogonal, constant, ...) works
    // on it unchanged; it gets its own stream, so adding a block leaves the other rows' numbers.
    Param part(p.name + "[" + b.block + "]", b.rows, static_cast<int>(p.value.cols()), b.fan_in, b.fan_out, b.init);
    fill(part, b.init);
    p.value.middleRows(b.row0, b.rows) = part.value;
    p.frozen = p.frozen || part.frozen;
  }
}

void Model::initialize(const PluginHost& host, uint64_t seed, const std::string& base_dir) {
  for (Param* p : params()) initialize_param(*p, host, seed, base_dir);
}

const Seq& Model::forward(const Seq& x, Mode mode) {
  const Seq* in = &x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    marker::ComponentScope mark("layer", layers_[i]->name(), "forward");
    const auto t0 = std::chrono::steady_clock::now();
    layers_[i]->forward(*in, acts_[i], mode);
    if (GemmProfile* p = GemmProfile::get())  // UNROLL_GEMM_PROFILE: layer times too
      p->add_layer(layers_[i]->name(), mode == Mode::Train ? "forward_train" : "forward_eval",
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    in = &acts_[i];
  }
  return *in;
}

void Model::backward(const Seq& dy) {
  const Seq* d = &dy;
  for (size_t i = layers_.size(); i-- > 0;) {
    marker::ComponentScope mark("layer", layers_[i]->name(), "backward");
    const auto t0 = std::chrono::steady_clock::now();
    layers_[i]->backward(*d, grads_[i], i > 0);
    if (GemmProfile* p = GemmProfile::get())
      p->add_layer(layers_[i]->name(), "backward",
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    d = &grads_[i];
  }
}

std::vector<Param*> Model::params() {
  std::vector<Param*> out;
  for (auto& l : layers_)
    for (Param* p : l->params()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Matrix*>> Model::buffers() {
  std::vector<std::pair<std::string, Matrix*>> out;
  for (auto& l : layers_)
    for (auto& b : l->buffers()) out.push_back(b);
  return out;
}

bool Model::recurrent() const {
  for (const auto& l : layers_)
    if (l->is_recurrent()) return true;
  return false;
}

void Model::reset_state(int batch) {
  for (auto& l : layers_) l->reset_state(batch);  // recurrent state, and per-sequence randomness (variational dropout)
}

void Model::set_epoch(uint64_t seed, int epoch, int rank) {
  // Rank 0 draws what a one-process run draws; other ranks draw their own streams, so no two
  // ranks share a dropout mask or a noise sample.
  const std::string suffix = rank == 0 ? "" : "/rank" + std::to_string(rank);
  for (auto& l : layers_) l->set_epoch_rng(Rng::derive(seed, l->name() + "/epoch" + std::to_string(epoch) + suffix));
}

std::string Model::describe() const {
  std::ostringstream s;
  long total = 0;
  int in = input_size_;
  for (size_t i = 0; i < layers_.size(); ++i) {
    long n = 0;
    for (Param* p : layers_[i]->params()) n += p->value.size();
    total += n;
    s << "  " << layers_[i]->name() << " (" << kinds_[i] << "): " << in << " -> " << layers_[i]->output_size();
    if (n) s << ", " << n << " parameters";
    s << "\n";
    in = layers_[i]->output_size();
  }
  s << "  total: " << total << " parameters\n";
  return s.str();
}

}  // namespace unroll
