// pretrained: copy a parameter from a checkpoint of an earlier run (by parameter name), or from
// a .npy file holding the matrix (pretrained word vectors for an embedding), and optionally
// freeze it. Put it on a layer's init to load the whole layer (each of its parameters looks up
// its own name), or on one parameter's init with `param` to load it from another name.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unroll/checkpoint_reader.hpp>
#include <unroll/names.hpp>
#include <unroll/npy_array.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;
namespace fs = std::filesystem;

std::string shape(long r, long c) { return std::to_string(r) + "x" + std::to_string(c); }

class Pretrained final : public Initializer {
 public:
  Pretrained(std::string run, std::string which, std::string param, std::string file, bool freeze)
      : run_(std::move(run)),
        which_(std::move(which)),
        param_(std::move(param)),
        file_(std::move(file)),
        freeze_(freeze) {}

  void fill(Param& p, Rng&) override {
    if (!file_.empty()) {
      fill_from_file(p);
      if (freeze_) p.frozen = true;
      return;
    }
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
      throw Error("pretrained: shape mismatch: this model's " + p.name + " is " +
                  shape(p.value.rows(), p.value.cols()) + " but '" + want + "' in " + dir + " is " +
                  shape(it->rows, it->cols));
    p.value = ckpt.read(*it);
    if (freeze_) p.frozen = true;
  }

 private:
  // A 2-D array of any numeric dtype, [rows, cols] of the parameter (an embedding's W: [vocab, dim]).
  void fill_from_file(Param& p) const {
    const NpyArray a = NpyArray::open(file_);
    if (a.ndim() != 2 || static_cast<long>(a.shape()[0]) != p.value.rows() ||
        static_cast<long>(a.shape()[1]) != p.value.cols())
      throw Error("pretrained: shape mismatch: " + file_ + " holds an array of shape " + a.shape_text() + " but " +
                  p.name + " is " + shape(p.value.rows(), p.value.cols()) + " (rows x cols: for an embedding, " +
                  "vocab x dim)");
    std::vector<float> rows(a.size());
    a.to_float(0, a.size(), rows.data());
    for (float v : rows)
      if (!std::isfinite(v))
        throw Error("pretrained: " + file_ + " holds a value that is not finite (" + std::to_string(v) + ")");
    // C order in the file, column-major in Eigen.
    p.value = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        rows.data(), p.value.rows(), p.value.cols());
  }

  std::string run_, which_, param_, file_;
  bool freeze_;
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s("pretrained", "Weights copied from a checkpoint of an earlier run, by parameter name (optionally frozen).");
  s.string("run", "",
           "A run folder (its checkpoint/ or best/ is read) or a checkpoint folder; relative to the experiment file.");
  s.string("file", "",
           "Instead of run: a .npy file holding the matrix, shape [rows, cols] of the parameter (an "
           "embedding's W: [vocab, dim]), any numeric dtype; relative to the experiment file.");
  s.choice("checkpoint", "checkpoint", {"checkpoint", "best"},
           "Which checkpoint of a run folder: the latest (checkpoint/) or the best by the monitored metric (best/).");
  s.string("param", "", "Name of the parameter in the checkpoint (default: the parameter's own name, e.g. dense0.W).");
  s.boolean("freeze", false, "Keep the loaded values fixed: the optimizer skips the parameter.");
  registry.add_initializer(std::move(s), [](const Options& o, BuildContext& ctx) -> std::unique_ptr<Initializer> {
    fs::path run = o.string("run"), file = o.string("file");
    if (run.empty() == file.empty())
      throw Error(std::string("pretrained: give either `run` (a run folder or a checkpoint folder) or `file` (a .npy "
                              "file), ") +
                  (run.empty() ? "got neither" : "not both"));
    for (fs::path* p : {&run, &file})
      if (!p->empty() && p->is_relative() && !ctx.base_dir.empty()) *p = fs::path(ctx.base_dir) / *p;
    return std::make_unique<Pretrained>(run.lexically_normal().string(), o.string("checkpoint"), o.string("param"),
                                        file.empty() ? "" : file.lexically_normal().string(), o.boolean("freeze"));
  });
}
