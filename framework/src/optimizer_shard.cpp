#include "optimizer_shard.hpp"

#include <algorithm>
#include <iterator>
#include <set>
#include <sstream>

#include "unroll/host/distributed.hpp"

namespace unroll {

std::string why_not_sharded(const Optimizer& optimizer, const std::string& optimizer_kind,
                            const std::vector<std::shared_ptr<Regularizer>>& regularizers,
                            const std::vector<Node>& regularizer_blocks) {
  if (!optimizer.elementwise())
    return "the optimizer '" + optimizer_kind +
           "' does not declare itself elementwise (Optimizer::elementwise()), so each rank cannot step a share of "
           "the parameters alone";
  for (size_t i = 0; i < regularizers.size(); ++i)
    if (regularizers[i]->changes_gradients()) {
      const std::string kind = i < regularizer_blocks.size() ? regularizer_blocks[i].at("kind").text() : "?";
      return "the regularizer '" + kind +
             "' changes gradients before the step (a penalty or gradient transform needs whole parameters on "
             "every rank; for L2, the optimizer's weight_decay shards)";
    }
  return "";
}

OptimizerShard::OptimizerShard(Communicator& comm, std::vector<Param*> params)
    : comm_(comm), params_(std::move(params)) {
  for (const Param* p : params_) {
    offsets_.push_back(total_);
    total_ += static_cast<size_t>(p->value.size());
  }
  const int n = comm_.size();
  for (int r = 0; r < n; ++r) {
    const Slice s = rank_slice(total_, r, n);
    counts_.push_back(static_cast<int>(s.size()));
    if (r == comm_.rank()) begin_ = s.begin, end_ = s.end;
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const size_t from = std::max(begin_, offsets_[i]);
    const size_t to = std::min(end_, offsets_[i] + static_cast<size_t>(params_[i]->value.size()));
    if (from < to)
      ranges_.push_back(ParamRange{params_[i], static_cast<Eigen::Index>(from - offsets_[i]),
                                   static_cast<Eigen::Index>(to - offsets_[i])});
  }
  send_.resize(total_);
  recv_.resize(share_size());
  values_.resize(total_);
}

void OptimizerShard::sum() {
  // The send buffer is the parameters' gradients end to end; block r is rank r's share.
  for (size_t i = 0; i < params_.size(); ++i) {
    float* g = params_[i]->grad.data();
    std::copy_n(g, params_[i]->grad.size(), send_.data() + offsets_[i]);
    std::fill_n(g, params_[i]->grad.size(), 0.0f);  // consumed: the sum comes back through the share only
  }
  comm_.reduce_scatter_sum(send_, recv_, counts_);
}

void OptimizerShard::write_gradients() {
  const float* g = recv_.data();
  for (const ParamRange& r : ranges_) {
    std::copy_n(g, r.end - r.begin, r.param->grad.data() + r.begin);
    g += r.end - r.begin;
  }
}

void OptimizerShard::finish_step() {
  float* v = values_.data() + begin_;
  for (const ParamRange& r : ranges_) {
    std::fill_n(r.param->grad.data() + r.begin, r.end - r.begin, 0.0f);
    std::copy_n(r.param->value.data() + r.begin, r.end - r.begin, v);
    v += r.end - r.begin;
  }
  comm_.allgather(values_, counts_);
  for (size_t i = 0; i < params_.size(); ++i)
    std::copy_n(values_.data() + offsets_[i], params_[i]->value.size(), params_[i]->value.data());
}

int OptimizerShard::owner_param(const std::string& key, const Matrix& m) const {
  int best = -1;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Param& p = *params_[i];
    if (key.size() > p.name.size() && key.compare(0, p.name.size(), p.name) == 0 && key[p.name.size()] == '/' &&
        m.rows() == p.value.rows() && m.cols() == p.value.cols() &&
        (best < 0 || p.name.size() > params_[static_cast<size_t>(best)]->name.size()))
      best = static_cast<int>(i);
  }
  return best;
}

StateMap OptimizerShard::gather_state(const StateMap& local) {
  // The suffixes ("/m", "/v", ...) any rank keeps, agreed on by every rank: rank r broadcasts
  // its own in turn (N small broadcasts, once a checkpoint).
  std::set<std::string> suffixes;
  StateMap out;
  for (const auto& [key, m] : local) {
    const int i = owner_param(key, m);
    if (i < 0)
      out.emplace(key, m);  // shared: identical on every rank
    else
      suffixes.insert(key.substr(params_[static_cast<size_t>(i)]->name.size()));
  }
  for (int r = 0; r < comm_.size(); ++r) {
    std::string text;
    if (r == comm_.rank())
      for (const std::string& s : suffixes) text += s + '\n';
    comm_.broadcast(text, r);
    std::istringstream lines(text);
    for (std::string s; std::getline(lines, s);) suffixes.insert(s);
  }
  // Which parameters have each suffix on some rank (a frozen one has none anywhere).
  std::vector<double> present(suffixes.size() * params_.size(), 0.0);
  size_t k = 0;
  for (const std::string& s : suffixes)
    for (const Param* p : params_) present[k++] = local.count(p->name + s) ? 1.0 : 0.0;
  comm_.allreduce_sum(std::span<double>(present));
  k = 0;
  for (const std::string& s : suffixes) {
    // Each rank puts the elements of its share in place; the allgather completes the tensor.
    float* v = values_.data() + begin_;
    for (const ParamRange& r : ranges_) {
      const auto it = local.find(r.param->name + s);
      if (it != local.end())
        std::copy_n(it->second.data() + r.begin, r.end - r.begin, v);
      else
        std::fill_n(v, r.end - r.begin, 0.0f);
      v += r.end - r.begin;
    }
    comm_.allgather(values_, counts_);
    for (size_t i = 0; i < params_.size(); ++i, ++k) {
      if (present[k] == 0) continue;
      const Param& p = *params_[i];
      Matrix whole(p.value.rows(), p.value.cols());
      std::copy_n(values_.data() + offsets_[i], whole.size(), whole.data());
      out.emplace(p.name + s, std::move(whole));
    }
  }
  return out;
}

void OptimizerShard::trim_state(StateMap& state) const {
  for (auto it = state.begin(); it != state.end();) {
    const int i = owner_param(it->first, it->second);
    const bool mine = i < 0 || std::any_of(ranges_.begin(), ranges_.end(), [&](const ParamRange& r) {
                        return r.param == params_[static_cast<size_t>(i)];
                      });
    it = mine ? std::next(it) : state.erase(it);
  }
}

}  // namespace unroll
