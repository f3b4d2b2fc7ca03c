#include "unroll/host/compose.hpp"

#include <charconv>
#include <filesystem>

#include "unroll/error.hpp"
#include "unroll/config_node.hpp"

namespace fs = std::filesystem;

namespace unroll {

namespace {

struct Tok {
  std::string key;
  long index = -1;
};

std::vector<Tok> tokenize(const std::string& path, const std::string& origin) {
  std::vector<Tok> toks;
  for (size_t i = 0; i < path.size();) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string::npos) throw Error(origin + ": missing ']' in the path '" + path + "'");
      const std::string inner = path.substr(i + 1, close - i - 1);
      if (inner.empty() || inner.find_first_not_of("0123456789") != std::string::npos)
        throw Error(origin + ": '[" + inner + "]' in '" + path + "' is not a list index (a number >= 0)");
      long index = 0;
      const auto [end, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), index);
      if (ec != std::errc() || end != inner.data() + inner.size())
        throw Error(origin + ": '[" + inner + "]' in '" + path + "' is not a usable list index (too large)");
      toks.push_back({"", index});
      i = close + 1;
      continue;
    }
    size_t end = path.find_first_of(".[", i);
    if (end == std::string::npos) end = path.size();
    toks.push_back({path.substr(i, end - i), -1});
    i = end;
  }
  if (toks.empty()) throw Error(origin + ": empty path");
  return toks;
}

Node compose(const fs::path& file, std::vector<fs::path>& chain) {
  const fs::path canon = fs::weakly_canonical(fs::absolute(file));
  for (const auto& c : chain)
    if (c == canon) {
      std::string text;
      for (const auto& d : chain) text += d.string() + " -> ";
      throw Error("extends cycle: " + text + canon.string());
    }
  Node own = load_yaml_file(file.string());
  if (!own.is_map()) throw Error(own.loc().str() + ": an experiment must be a mapping of sections (data, model, ...)");
  const Node* ext = own.find("extends");
  if (!ext || ext->is_null()) {
    own.erase("extends");
    Node out = Node::map(own.loc());
    merge_into(out, own);  // applies path keys written in a file without a base too
    return out;
  }
  if (!ext->is_scalar() || ext->text().empty())
    throw Error(ext->loc().str() + ": 'extends' expects the path of a base experiment file");
  fs::path base_path = ext->text();
  if (base_path.is_relative()) base_path = canon.parent_path() / base_path;
  if (!fs::is_regular_file(base_path))
    throw Error(ext->loc().str() + ": " + file.string() + " extends '" + ext->text() + "', but " +
                base_path.lexically_normal().string() + " does not exist");
  chain.push_back(canon);
  Node base;
  try {
    base = compose(base_path, chain);
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind("extends cycle", 0) == 0) throw Error(ext->loc().str() + ": " + msg);
    throw;
  }
  chain.pop_back();
  // Relative paths in the base keep meaning what they meant in its own folder.
  if (fs::weakly_canonical(base_path).parent_path() != canon.parent_path()) absolutize_paths(base);
  own.erase("extends");
  merge_into(base, own);
  return base;
}

void absolutize(Node& n, const std::string& key) {
  if (key == "kind" || key == "name" || key == "description" || key == "seed") return;
  if (n.is_map()) {
    for (auto& [k, v] : n.entries()) absolutize(v, k);
  } else if (n.is_sequence()) {
    for (auto& i : n.items()) absolutize(i, key);
  } else if (n.is_scalar() && !n.text().empty() && !n.as_double() && n.loc().line > 0) {
    const fs::path p = n.text();
    if (!p.is_relative()) return;
    const fs::path full = fs::absolute(fs::path(n.loc().file)).parent_path() / p;
    std::error_code ec;
    if (fs::exists(full, ec)) {
      SourceLoc loc = n.loc(), kl = n.key_loc();
      Node r = Node::scalar(full.lexically_normal().string(), loc);
      r.set_key_loc(kl);
      n = r;
    }
  }
}

// Writes `value` where `target` is, by the one rule of composition: a mapping onto a mapping
// merges key by key (recursively; a different `kind` is a different component and replaces the
// block), anything else replaces. A list element written as a bare kind (`- relu`) is the block
// {kind: relu}, so a mapping of options merges into it too.
void assign(Node& target, Node value, bool list_element) {
  if (list_element && value.is_map() && !value.find("kind") && target.is_scalar() && !target.text().empty()) {
    Node block = Node::map(target.loc());
    block.set_key_loc(target.key_loc());
    block.set("kind", target);
    target = block;
  }
  if (target.is_map() && value.is_map()) {
    const Node* tk = target.find("kind");
    const Node* vk = value.find("kind");
    if (!(tk && vk && tk->is_scalar() && vk->is_scalar() && tk->text() != vk->text())) {
      merge_into(target, value);
      target.set_loc(value.loc());
      target.set_key_loc(value.key_loc());
      return;
    }
  }
  target = std::move(value);
}

}  // namespace

bool is_path_key(const std::string& key) { return key.find_first_of(".[") != std::string::npos; }

void merge_into(Node& base, const Node& over) {
  if (!over.is_map() || !base.is_map()) {
    base = over;
    return;
  }
  std::vector<const std::pair<std::string, Node>*> paths;
  for (const auto& entry : over.entries()) {
    const auto& [key, value] = entry;
    // A path key is a path into `base`, unless `base` holds that very key: the overrides of a
    // sweep's grid level or variant (`lstm: {model[0]: {...}}`) keep their keys until they are
    // applied to an experiment, and a mapping written onto such a level merges key for key.
    if (is_path_key(key) && !base.find(key)) {
      paths.push_back(&entry);
      continue;
    }
    if (value.is_null()) {
      base.erase(key);
      continue;
    }
    Node* b = base.find(key);
    if (!b || !b->is_map() || !value.is_map()) {
      base.set(key, value);
      continue;
    }
    const Node* bk = b->find("kind");
    const Node* ok = value.find("kind");
    if (bk && ok && bk->is_scalar() && ok->is_scalar() && bk->text() != ok->text()) {
      base.set(key, value);  // a different component: its options start from its own defaults
      continue;
    }
    merge_into(*b, value);
    b->set_loc(value.loc());
    b->set_key_loc(value.key_loc());
  }
  for (const auto* e : paths) set_path(base, e->first, e->second, e->second.key_loc());
}

void set_path(Node& root, const std::string& path, Node value, const SourceLoc& where) {
  const std::string origin = where.str() + ": '" + path + "'";
  const std::vector<Tok> toks = tokenize(path, where.str());
  value.set_key_loc(where);
  Node* cur = &root;
  std::string so_far;
  for (size_t t = 0; t < toks.size(); ++t) {
    const bool last = t + 1 == toks.size();
    const Tok& tok = toks[t];
    if (tok.index >= 0) {
      if (!cur->is_sequence())
        throw Error(origin + ": '" + so_far + "' is " + cur->type_name() + ", not a list, so [" +
                    std::to_string(tok.index) + "] does not apply");
      auto& items = cur->items();
      const long size = static_cast<long>(items.size());
      if (tok.index > size || (tok.index == size && (!last || value.is_null())))
        throw Error(origin + ": index " + std::to_string(tok.index) + " is out of range: '" + so_far + "' has " +
                    std::to_string(size) + " elements (0.." + std::to_string(size - 1) + ")");
      so_far += '[';  // appended, not "[" + ...: GCC 12 misreads that as an overlapping copy (-Wrestrict)
      so_far += std::to_string(tok.index);
      so_far += ']';
      if (last) {
        if (value.is_null())
          items.erase(items.begin() + tok.index);
        else if (tok.index == size)
          items.push_back(value);
        else
          assign(items[tok.index], std::move(value), true);
        return;
      }
      cur = &items[tok.index];
    } else {
      if (!cur->is_map() && !cur->is_null())
        throw Error(origin + ": '" + so_far + "' is " + cur->type_name() + ", not a mapping, so '" + tok.key +
                    "' does not apply");
      so_far += (so_far.empty() ? "" : ".") + tok.key;
      if (last) {
        if (value.is_null())
          cur->erase(tok.key);
        else if (Node* old = cur->find(tok.key))
          assign(*old, std::move(value), false);
        else
          cur->set(tok.key, value);
        return;
      }
      Node* next = cur->find(tok.key);
      if (!next) {
        Node m = Node::map(where);
        m.set_key_loc(where);
        next = &cur->set(tok.key, m);
      }
      cur = next;
    }
  }
}

void absolutize_paths(Node& node) { absolutize(node, ""); }

void apply_set(Node& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error("--set " + assignment + ": expected PATH=VALUE, e.g. --set optimizer.lr=0.1");
  const SourceLoc origin{"--set " + assignment, 0, 0};
  Node value = parse_yaml(assignment.substr(eq + 1), origin.file);
  value.set_loc(origin);
  set_path(root, assignment.substr(0, eq), std::move(value), origin);  // the same rules as path keys in files
}

Node load_composed(const std::string& path) {
  std::vector<fs::path> chain;
  return compose(path, chain);
}

}  // namespace unroll
