// pretrained: copy a parameter from a checkpoint of an earlier run (by parameter name), and
// optionally freeze it. Put it on a layer's init to load the whole layer (each of its parameters
// looks up its own name), or on one parameter's init with `param` to load it from another name.
#include <algorithm>
#include <filesystem>
#include <unroll/checkpoint_reader.hpp>
#include <unroll/names.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;
namespace fs = std::filesystem;

std::string shape(long r, long c) { return std::to_string(r) + "x" + std::to_string(c); }

class Pretrained final : public Initializer {
 public:
  Pretrained(std::string run, std::string which, std::string param, bool freeze)
      : run_(std::move(run)), which_(std::move(which)), param_(std::move(param)), freeze_(freeze) {}

  void fill(Param& p, Rng&) override {
    const CheckpointReader ckpt(run_, which_);
    const std::string& dir = ckpt.dir();
    const std::string want = param_.empty() ? p.name : param_;
    const TensorEntry* it = ckpt.find(want);
    if (!it) {
      std::vector<std::pair<size_t, std::string>> near;
      for (const auto& e : ckpt.params()) near.emplace_back(edit_distance(want, e.name), e.name);
      std::sort(near.begin(), near.end());
      std::string list;
      for (size_t i = 0; i < near.size() && i < 4; ++i) list += (i ? ", " : "") + near[i].second;
      throw Error("pretrained (for " + p.name + "): the checkpoint " + dir + " has no parameter '" + want + "'" +
                  (list.empty() ? " (it has no parameters)" : "; closest names: " + list) +
                  (param_.empty() ? " (set the initializer's `param` option to load from another name)" : ""));
    }
    if (it->rows != p.value.rows() || it->cols != p.value.cols())
      throw Error("pretrained: shape mismatch: this model's " + p.name + " is " + shape(p.value.rows(), p.value.cols()) +
                  " but '" + want + "' in " + dir + " is " + shape(it->rows, it->cols));
    p.value = ckpt.read(*it);
    if (freeze_) p.frozen = true;
  }

 private:
  std::string run_, which_, param_;
  bool freeze_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("pretrained", "Weights copied from a checkpoint of an earlier run, by parameter name (optionally frozen).");
  s.string("run", "", "A run folder (its checkpoint/ or best/ is read) or a checkpoint folder; relative to the experiment file.")
      .required = true;
  s.choice("checkpoint", "checkpoint", {"checkpoint", "best"},
           "Which checkpoint of a run folder: the latest (checkpoint/) or the best by the monitored metric (best/).");
  s.string("param", "", "Name of the parameter in the checkpoint (default: the parameter's own name, e.g. dense0.W).");
  s.boolean("freeze", false, "Keep the loaded values fixed: the optimizer skips the parameter.");
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext& ctx) -> std::unique_ptr<Initializer> {
    fs::path run = o.string("run");
    if (run.empty()) throw Error("pretrained: option 'run' is empty; give a run folder or a checkpoint folder");
    if (run.is_relative() && !ctx.base_dir.empty()) run = fs::path(ctx.base_dir) / run;
    return std::make_unique<Pretrained>(run.lexically_normal().string(), o.string("checkpoint"), o.string("param"),
                                        o.boolean("freeze"));
  });
}
