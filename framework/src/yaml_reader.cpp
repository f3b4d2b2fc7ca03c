// YAML text -> unroll::Node, built directly from yaml-cpp's parser events rather than through
// YAML::Load. YAML::Node shares aliased nodes, so walking one turns a self-referencing alias
// (`a: &x [*x]`) into endless recursion and an alias bomb ("billion laughs") into billions of
// copies; with the events every alias is expanded here, where its size is counted and a cycle is
// seen. The reader also bounds nesting depth and the file's size, refuses merge keys (`<<:`),
// and finds duplicate keys with a hash set (a linear scan per key made an 80k-key file take 40 s).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "unroll/error.hpp"
#include "unroll/host/yaml_reader.hpp"

namespace unroll {

namespace {

SourceLoc loc_of(const YAML::Mark& m, const std::string& file) {
  if (m.line < 0) return SourceLoc{file, 0, 0};
  return SourceLoc{file, m.line + 1, m.column + 1};
}

class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(std::string file) : file_(std::move(file)) { root_.set_loc(SourceLoc{file_, 0, 0}); }

  Node take_root() { return std::move(root_); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Node n;
    n.set_loc(loc_of(mark, file_));
    finish(std::move(n), mark, anchor, 1, /*plain_text=*/nullptr);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    // Tag "!" marks a quoted scalar: a quoted "<<" is an ordinary key.
    finish(Node::scalar(value, loc_of(mark, file_)), mark, anchor, 1, tag == "!" ? nullptr : &value);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end())  // the anchor is still open: the alias sits inside its own node
      throw Error(loc_of(mark, file_).str() + ": alias '*" + name_of(anchor) +
                  "' refers to a node that contains it (a self-referencing alias cannot be expanded)");
    const Anchored& a = *it->second;
    count(a.values, mark, true);  // before copying: a bomb fails here, not after filling memory
    Node copy = a.node;           // the alias's own location is where it was written
    copy.set_loc(loc_of(mark, file_));
    finish(std::move(copy), mark, 0, a.values, nullptr, /*counted=*/true);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(Node::sequence(loc_of(mark, file_)), mark, anchor);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(Node::map(loc_of(mark, file_)), mark, anchor);
  }
  void OnMapEnd() override { close(); }

  void OnAnchor(const YAML::Mark&, const std::string& name) override { pending_anchor_name_ = name; }

 private:
  struct Anchored {
    Node node;
    std::size_t values = 0;  // nodes in it, what each alias to it adds
  };
  struct Frame {
    Node node;
    YAML::Mark mark;
    YAML::anchor_t anchor = 0;
    std::size_t values = 1;  // this node and everything below it so far
    // Maps: the key waiting for its value, and the keys seen (duplicates are errors).
    bool have_key = false;
    std::string key;
    SourceLoc key_loc;
    std::unordered_set<std::string> keys;
  };

  std::string name_of(YAML::anchor_t a) const {
    auto it = anchor_names_.find(a);
    return it == anchor_names_.end() ? std::to_string(a) : it->second;
  }

  void remember_anchor_name(YAML::anchor_t anchor) {
    if (anchor) anchor_names_[anchor] = pending_anchor_name_;
    pending_anchor_name_.clear();
  }

  // Values written in the file are bounded by its size; values copied by aliases are bounded
  // here, before each copy, so an alias bomb stops after kMaxYamlAliasValues copies.
  void count(std::size_t values, const YAML::Mark& mark, bool alias) {
    total_ += values;
    if (total_ > kMaxYamlValues)
      throw Error(loc_of(mark, file_).str() + ": the document has more than " + std::to_string(kMaxYamlValues) +
                  " values; an experiment is far smaller");
    if (!alias) return;
    alias_values_ += values;
    if (alias_values_ > kMaxYamlAliasValues)
      throw Error(loc_of(mark, file_).str() + ": the document's aliases expand to more than " +
                  std::to_string(kMaxYamlAliasValues) + " values (an alias bomb?); an experiment is far smaller");
  }

  void open(Node n, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (stack_.size() >= kMaxYamlDepth)
      throw Error(loc_of(mark, file_).str() + ": nesting deeper than " + std::to_string(kMaxYamlDepth) +
                  " levels; an experiment needs a handful");
    remember_anchor_name(anchor);
    count(1, mark, false);
    Frame f;
    f.node = std::move(n);
    f.mark = mark;
    f.anchor = anchor;
    stack_.push_back(std::move(f));
  }

  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (!stack_.empty() && stack_.back().node.is_map() && f.node.is_map() && !stack_.back().have_key)
      throw Error(f.node.loc().str() + ": a mapping used as a key; keys must be plain names");
    finish(std::move(f.node), f.mark, f.anchor, f.values, nullptr, /*counted=*/true);
  }

  // A complete node: attach it to its parent (or make it the root) and record its anchor.
  // `plain_text` is the text of a plain (unquoted) scalar, for the merge-key check.
  void finish(Node n, const YAML::Mark& mark, YAML::anchor_t anchor, std::size_t values, const std::string* plain_text,
              bool counted = false) {
    if (!counted) {
      count(values, mark, false);
      remember_anchor_name(anchor);
    }
    if (anchor) anchors_[anchor] = std::make_shared<Anchored>(Anchored{n, values});
    if (stack_.empty()) {
      root_ = std::move(n);
      return;
    }
    Frame& parent = stack_.back();
    parent.values += values;
    if (parent.node.is_sequence()) {
      parent.node.push_back(std::move(n));
      return;
    }
    if (!parent.have_key) {  // n is a key
      if (!n.is_scalar())
        throw Error(loc_of(mark, file_).str() + ": a mapping key must be a plain name, got " + n.type_name());
      if (plain_text && *plain_text == "<<")
        throw Error(loc_of(mark, file_).str() +
                    ": merge keys ('<<') are not supported; write the keys out, or put the shared part in a base "
                    "file and use 'extends:'");
      parent.key = n.text();
      parent.key_loc = loc_of(mark, file_);
      parent.have_key = true;
      return;
    }
    parent.have_key = false;
    if (!parent.keys.insert(parent.key).second)
      throw Error(parent.key_loc.str() + ": key '" + parent.key + "' appears twice in the same mapping");
    n.set_key_loc(parent.key_loc);
    if (n.is_null()) n.set_loc(parent.key_loc);
    // Appended directly: Node::set would scan the entries for the key again.
    parent.node.entries().emplace_back(std::move(parent.key), std::move(n));
  }

  std::string file_;
  Node root_;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, std::shared_ptr<const Anchored>> anchors_;
  std::unordered_map<YAML::anchor_t, std::string> anchor_names_;
  std::string pending_anchor_name_;
  std::size_t total_ = 0, alias_values_ = 0;
};

}  // namespace

Node parse_yaml(const std::string& text, const std::string& file) {
  std::istringstream in(text);
  TreeBuilder builder(file);
  try {
    YAML::Parser parser(in);
    parser.HandleNextDocument(builder);  // the first document, as YAML::Load reads
  } catch (const YAML::DeepRecursion& e) {
    throw Error(loc_of(e.mark, file).str() + ": nesting deeper than " + std::to_string(e.depth()) +
                " levels; an experiment needs a handful");
  } catch (const YAML::Exception& e) {
    throw Error(loc_of(e.mark, file).str() + ": YAML syntax error: " + e.msg);
  }
  return builder.take_root();
}

Node load_yaml_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat on the open descriptor then
  // decides, so the file checked is the file read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    struct stat st {};
    if (err == ENOENT) throw Error("cannot read experiment file " + path + ": no such file");
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      throw Error(path + ": is a directory, not an experiment file");
    throw Error("cannot read experiment file " + path + ": " + std::strerror(err));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error("cannot read experiment file " + path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, not an experiment file");
  if (!S_ISREG(st.st_mode))
    throw Error(path + ": is not a regular file (a device, FIFO or socket); give the path of a .yaml file");
  if (static_cast<unsigned long long>(st.st_size) > kMaxYamlBytes)
    throw Error(path + ": " + std::to_string(st.st_size) + " bytes is too large for an experiment file (the limit is " +
                std::to_string(kMaxYamlBytes) + " bytes)");
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot read experiment file " + path + ": " + std::strerror(errno));
    }
    if (got == 0) break;
    text.append(buf, static_cast<std::size_t>(got));
    if (text.size() > kMaxYamlBytes)  // the file grew while being read
      throw Error(path + ": more than " + std::to_string(kMaxYamlBytes) + " bytes; too large for an experiment file");
  }
  return parse_yaml(text, path);
}

}  // namespace unroll
