// embedding: token index -> vector. y_t = W[x_t] (row x_t of W, vocab x dim), for every step.
// The input is one feature per column holding an integer index (char_text with input: index, or
// integer-valued data). Its backward pass scatters dL/dy into the rows of W.grad that the batch
// used — the other rows are not touched — and there is no gradient w.r.t. an index: dx is zeros.
#include <cmath>
#include <unroll/parallel.hpp>
#include <unroll/plugin.hpp>

namespace {
using namespace unroll;

class Embedding final : public Layer {
 public:
  Embedding(const std::string& name, int vocab, int dim, const Node& init, bool freeze)
      : name_(name),
        dim_(dim),
        // vocab x dim, as a .npy file of pretrained vectors holds it; fans as for a dense layer
        // on one-hot inputs (fan_in = vocab, fan_out = dim).
        W_(name + ".W", vocab, dim, /*fan_in=*/vocab, /*fan_out=*/dim, init) {
    W_.frozen = freeze;
  }

  int output_size() const override { return dim_; }
  std::vector<Param*> params() override { return {&W_}; }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode mode) override {
    const Eigen::Index n = x.data.cols();
    idx_.resize(static_cast<std::size_t>(n));
    // Every index is checked before anything is read: a bad one is an error, never a read
    // outside W.
    for (Eigen::Index j = 0; j < n; ++j) idx_[static_cast<std::size_t>(j)] = index_of(x, j);
    y.resize(dim_, x.steps, x.batch);
    // A row of the column-major W is strided; reading it costs dim loads per column, which
    // grows with the batch, not with the vocabulary (a transposed copy of W would).
    parallel_for(
        n,
        [&](Eigen::Index b, Eigen::Index e) {
          for (Eigen::Index j = b; j < e; ++j)
            y.data.col(j) = W_.value.row(idx_[static_cast<std::size_t>(j)]).transpose();
        },
        /*grain=*/256);
    (void)mode;  // idx_ is all backward needs, and it is kept in either mode
  }

  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    // Sparse rows: only the rows of the batch's indices get gradient; a repeated index adds up.
    // Threads split the dim columns of W.grad, each walking the batch in column order, so the sum
    // order, and the numbers, do not depend on the thread count.
    const Eigen::Index n = dy.data.cols();
    parallel_for(
        dim_,
        [&](Eigen::Index b, Eigen::Index e) {
          for (Eigen::Index j = 0; j < n; ++j)
            W_.grad.row(idx_[static_cast<std::size_t>(j)]).segment(b, e - b) +=
                dy.data.col(j).segment(b, e - b).transpose();
        },
        /*grain=*/16);
    if (need_dx) {  // no gradient w.r.t. an integer index
      dx.resize(1, dy.steps, dy.batch);
      dx.data.setZero();
    }
  }

 private:
  Eigen::Index index_of(const Seq& x, Eigen::Index j) const {
    const float v = x.data(0, j);
    const long vocab = static_cast<long>(W_.value.rows());
    if (!(v >= 0 && v < static_cast<float>(vocab)) || v != std::floor(v)) {
      const int step = static_cast<int>(j / x.batch), sample = static_cast<int>(j % x.batch);
      throw Error(
          name_ + ": input " +
          (std::isfinite(v) && v == std::floor(v) ? std::to_string(static_cast<long long>(v)) : std::to_string(v)) +
          " at step " + std::to_string(step) + " of sample " + std::to_string(sample) +
          (v == std::floor(v) ? " is outside the vocabulary of " + std::to_string(vocab) + " tokens (indices 0.." +
                                    std::to_string(vocab - 1) + ")"
                              : " is not a token index (an integer)"));
    }
    return static_cast<Eigen::Index>(v);
  }

  std::string name_;
  int dim_;
  Param W_;
  std::vector<Eigen::Index> idx_;  // the indices of the last forward, one per column
};

}  // namespace

UNROLL_PLUGIN(registry) {
  Schema s(
      "embedding",
      "Token embedding (Bengio et al. 2003): each input, one integer index per step, becomes row W[index] of the "
      "vocab x dim matrix W. Backward touches only the rows the batch used; there is no gradient w.r.t. the index.");
  s.integer("vocab", 0, "Vocabulary size (rows of W); 0: the data's vocabulary (char_text with input: index).")
      .at_least(0);
  s.integer("dim", "Size of each token's vector (columns of W).").at_least(1);
  s.component("init", "initializer", "{kind: gaussian, std: 1}",
              "Initializer of W (fan_in = vocab, fan_out = dim). {kind: pretrained, file: vectors.npy} loads a "
              "[vocab, dim] matrix; {kind: pretrained, run: RUN_DIR} the W of an earlier run.");
  s.boolean("freeze", false, "Keep W fixed (the optimizer skips it): pretrained vectors used as they are.");
  registry.add_layer(
      std::move(s),
      [](const Options& o, BuildContext& c) -> std::unique_ptr<Layer> {
        if (c.input_size != 1)
          throw Error(c.name + ": embedding takes one feature per step holding a token index, got " +
                      std::to_string(c.input_size) + " input features (char_text: set input: index)");
        const long long vocab = o.integer("vocab");
        if (vocab < 1)
          throw Error(c.name +
                      ": vocab is 0 and the data does not give token indices; set vocab, or use data whose "
                      "inputs are tokens (char_text with input: index)");
        if (vocab >= (1 << 24))  // an index travels as a float, exact up to 2^24
          throw Error(c.name + ": vocab " + std::to_string(vocab) + " is too large; indices are exact up to 16777215");
        return std::make_unique<Embedding>(c.name, static_cast<int>(vocab), o.i("dim"), o.block("init"),
                                           o.boolean("freeze"));
      },
      [](const Options& o, int) {  // W; it caches one index per column
        return LayerFootprint{o.i("dim"),
                              static_cast<double>(o.integer("vocab")) * static_cast<double>(o.integer("dim")), 1};
      });
}
