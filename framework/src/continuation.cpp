#include "unroll/host/continuation.hpp"

#include <algorithm>
#include <ctime>
#include <sstream>

#include "unroll/error.hpp"
#include "unroll/host/config.hpp"

namespace unroll {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// A node as one line: a scalar's text, else its YAML on one line.
std::string one_line(const Node& n) {
  if (n.is_null()) return "null";
  if (n.is_scalar()) return n.text();
  std::string y = to_yaml(n);
  while (!y.empty() && y.back() == '\n') y.pop_back();
  std::replace(y.begin(), y.end(), '\n', ' ');
  return y;
}

void diff(const std::string& path, const Node* a, const Node* b, std::vector<ConfigChange>& out) {
  if (!a || !b) {
    out.push_back({path, a ? one_line(*a) : "", b ? one_line(*b) : ""});
    return;
  }
  if (a->type() != b->type()) {
    out.push_back({path, one_line(*a), one_line(*b)});
    return;
  }
  auto child = [&](const std::string& key) { return path.empty() ? key : path + "." + key; };
  if (a->is_map()) {
    for (const auto& [k, v] : a->entries()) diff(child(k), &v, b->find(k), out);
    for (const auto& [k, v] : b->entries())
      if (!a->find(k)) diff(child(k), nullptr, &v, out);
  } else if (a->is_sequence()) {
    if (a->items().size() != b->items().size()) {
      out.push_back({path, std::to_string(a->items().size()) + " items", std::to_string(b->items().size()) + " items"});
      return;
    }
    for (size_t i = 0; i < a->items().size(); ++i)
      diff(path + "[" + std::to_string(i) + "]", &a->items()[i], &b->items()[i], out);
  } else if (a->is_scalar() && a->text() != b->text()) {
    out.push_back({path, a->text(), b->text()});
  }
}

std::string now_iso() {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return stamp;
}

bool changed_under(const std::vector<ConfigChange>& changes, const std::string& prefix) {
  return std::any_of(changes.begin(), changes.end(),
                     [&](const ConfigChange& c) { return c.path == prefix || starts_with(c.path, prefix + "."); });
}

}  // namespace

std::vector<ConfigChange> config_changes(const Node& before, const Node& after) {
  std::vector<ConfigChange> out;
  diff("", &before, &after, out);
  return out;
}

bool continuation_allows(const std::string& path, std::string* why) {
  auto no = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  auto under = [&](const char* prefix) {
    return path == prefix || starts_with(path, std::string(prefix) + ".") ||
           starts_with(path, std::string(prefix) + "[");
  };
  for (const char* ok : {"train.epochs", "train.eval_batch", "train.threads", "train.stop", "train.checkpoint",
                         "train.clip", "train.diagnostics", "train.distributed", "description"})
    if (under(ok)) return true;
  if (path == "optimizer.kind" || path == "optimizer") return no("the checkpoint holds this optimizer kind's state");
  if (path == "schedule.kind" || path == "schedule") return no("the checkpoint holds this schedule kind's state");
  if (under("optimizer") || under("schedule")) return true;
  if (under("model")) return no("the checkpoint holds the model's parameters, whose shapes the layers fix");
  if (under("data")) return no("the data fixes the input and output shapes and which samples train, validate and test");
  if (under("seed")) return no("every random stream of the run (split, shuffle, dropout, noise) derives from it");
  if (under("loss") || under("regularizers"))
    return no("they define the objective train_loss measures; metrics.csv's rows would not compare");
  if (under("train.batch") || under("train.shuffle") || under("train.loss_at") || under("train.bptt"))
    return no("it changes what an epoch and an update are, which the step count in the checkpoint counts");
  if (under("name")) return no("it names the run");
  if (under("plugins")) return no("the plugins are the code the checkpoint was trained with");
  return no("only the keys listed below may change");
}

std::string continuation_allowed_keys() {
  return "train.epochs, train.eval_batch, train.threads, train.stop.*, train.checkpoint.*, train.clip.*, "
         "train.diagnostics.*, train.distributed.*, optimizer.* (not its kind), schedule.* (not its kind), description";
}

void check_continuation(const std::vector<ConfigChange>& changes, const std::vector<std::string>& sets) {
  std::string refused;
  for (const ConfigChange& c : changes) {
    std::string why;
    if (continuation_allows(c.path, &why)) continue;
    refused += "\n  " + c.path + " (" + (c.before.empty() ? "absent" : c.before) + " -> " +
               (c.after.empty() ? "absent" : c.after) + "): " + why;
  }
  if (refused.empty()) return;
  std::string given;
  for (const auto& s : sets) given += " --set " + s;
  throw Error("--resume" + given + ": a continued run cannot change" + refused +
              "\nA continuation may change only: " + continuation_allowed_keys() +
              ". To train with other settings, start a new run (a `pretrained` initializer can start it from this "
              "run's checkpoint).");
}

bool continuation_needed(const std::string& run_dir, const std::string& status, const std::string& stop_reason,
                         int done_epochs, const Node& config, const std::vector<ConfigChange>& changes, bool any_set) {
  const long long epochs = config.at("train").at("epochs").as_int().value_or(0);
  const bool epochs_changed = changed_under(changes, "train.epochs");
  const std::string done = std::to_string(done_epochs);
  if (status == "completed" && !any_set) return false;
  if ((status == "completed" || epochs_changed) && epochs <= done_epochs)
    throw Error("--resume " + run_dir + ": train.epochs is " + std::to_string(epochs) + " but the run has trained " +
                done + " epochs already, so there is nothing to train: give more, e.g. --set train.epochs=" +
                std::to_string(done_epochs + 10));
  if (status == "completed") {
    const char* rule = stop_reason == "early_stopping"     ? "train.stop.early"
                       : stop_reason == "train_loss_below" ? "train.stop.train_loss_below"
                       : stop_reason == "max_seconds"      ? "train.stop.max_seconds"
                                                           : nullptr;
    if (rule && !changed_under(changes, rule))
      throw Error("--resume " + run_dir + ": the run stopped by its rule " + stop_reason + " after " + done +
                  " epochs; continued unchanged, that rule would stop it again after one more epoch. Change " + rule +
                  " too (e.g. " +
                  (stop_reason == "early_stopping" ? "--set train.stop.early.patience=0 to turn it off"
                   : stop_reason == "max_seconds"  ? "--set train.stop.max_seconds=BIGGER"
                                                   : "--set train.stop.train_loss_below=LOWER") +
                  ")");
  }
  if (status == "diverged" && changes.empty())
    throw Error("--resume " + run_dir + ": the run diverged; resumed unchanged from its last good checkpoint (epoch " +
                done + ") it would diverge again, bit for bit. Change what made it diverge, e.g. --set optimizer.lr=" +
                "SMALLER or --set train.clip.norm=1");
  return true;
}

nlohmann::json continuation_record(int at_epoch, const std::string& status, const std::vector<ConfigChange>& changes) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& c : changes) list.push_back({{"key", c.path}, {"from", c.before}, {"to", c.after}});
  nlohmann::ordered_json r;
  r["at_epoch"] = at_epoch;
  r["status"] = status;  // what the run was when it was continued
  r["changes"] = list;
  r["time"] = now_iso();
  return nlohmann::json::parse(r.dump());
}

std::string continuation_line(int at_epoch, const std::string& status, const std::vector<ConfigChange>& changes) {
  std::string s = "continued at epoch " + std::to_string(at_epoch) + " (" + status + ")";
  for (size_t i = 0; i < changes.size(); ++i)
    s += (i ? ", " : ": ") + changes[i].path + " " + changes[i].before + " -> " + changes[i].after;
  return s;
}

std::string continued_config_text(const std::string& old_text, const std::string& line, const Node& config) {
  std::string comments;
  std::istringstream in(old_text);
  for (std::string l; std::getline(in, l);)
    if (starts_with(l, "#")) comments += l + "\n";
  return comments + "# " + line + "\n" + to_yaml(config);
}

}  // namespace unroll
