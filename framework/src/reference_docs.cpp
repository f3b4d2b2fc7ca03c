#include "unroll/host/reference_docs.hpp"

#include <filesystem>
#include <sstream>

#include "unroll/host/experiment.hpp"
#include "unroll/host/component_table.hpp"

namespace unroll {

namespace {

const char* kBanner =
    "<!-- Generated from the plugin schemas by `unroll plugins --markdown docs/reference`. Do not edit:\n"
    "     tests/test_docs.cpp fails when this page and the code disagree. -->\n";

// Table cells: pipes would split the cell, newlines would end the row.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string type_text(const OptionSpec& o) {
  if (o.type == OptType::Choice) {
    std::string t = "one of ";
    for (size_t i = 0; i < o.choices.size(); ++i) t += (i ? ", " : "") + ("`" + o.choices[i] + "`");
    return t;
  }
  if (o.type == OptType::Component) return o.component_kind + " block";
  return to_string(o.type);
}

std::string default_text(const OptionSpec& o) {
  if (o.required) return "required";
  if (o.type == OptType::Block) return "";
  if (o.default_yaml.empty()) return o.type == OptType::String ? "`\"\"`" : "unset";
  return "`" + o.default_yaml + "`";
}

void rows(std::ostringstream& s, const Schema& schema, const std::string& prefix) {
  for (const auto& o : schema.options()) {
    const std::string range = o.range_text();
    s << "| `" << prefix << o.name << "` | " << cell(type_text(o)) << " | " << cell(default_text(o)) << " | "
      << (range.empty() ? "" : "`" + range + "`") << " | " << cell(o.doc) << " |\n";
    if (o.type == OptType::Block && o.block_schema) rows(s, *o.block_schema, prefix + o.name + ".");
  }
}

void table(std::ostringstream& s, const Schema& schema, const std::string& prefix = "") {
  if (schema.options().empty()) {
    s << "No options.\n";
    return;
  }
  s << "| option | type | default | range | description |\n|---|---|---|---|---|\n";
  rows(s, schema, prefix);
}

std::string title(std::string plural) {
  plural[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(plural[0])));
  return plural;
}

}  // namespace

std::map<std::string, std::string> reference_pages(const ComponentTable& registry) {
  std::map<std::string, std::string> pages;
  std::ostringstream index;
  index << "# Reference\n\n"
        << kBanner << "\n"
        << "Every component's options, generated from the schemas the plugins register (what "
           "`unroll plugins --describe NAME` prints). The hand-written guides in `docs/` explain when and why "
           "to use each.\n\n";
  for (Kind k : all_kinds()) {
    const std::string plural = kind_plural(k);
    const auto names = registry.names(k);
    std::ostringstream s;
    s << "# " << title(plural) << "\n\n" << kBanner << "\n";
    s << names.size() << " " << (names.size() == 1 ? kind_name(k) : plural) << ", used as `{kind: NAME, ...}` blocks";
    s << " (guide: [../" << plural << ".md](../" << plural << ".md)).\n";
    for (const auto& n : names) {
      const auto* e = registry.find(k, n);
      s << "\n## " << n << "\n\n" << e->schema.summary() << "\n\n";
      table(s, e->schema);
      s << "\nLibrary: `" << std::filesystem::path(e->library).filename().string() << "`\n";
    }
    pages[plural + ".md"] = s.str();
    index << "- [" << title(plural) << "](" << plural << ".md): ";
    for (size_t i = 0; i < names.size(); ++i) index << (i ? ", " : "") << "`" << names[i] << "`";
    index << "\n";
  }
  {
    std::ostringstream s;
    s << "# The `train:` block\n\n"
      << kBanner << "\n"
      << train_schema().summary()
      << ": options of the host's training loop (not a plugin). Nested blocks are written "
         "`train: {stop: {early: {patience: 5}}}`; the table spells them with dots.\n\n";
    table(s, train_schema());
    pages["train.md"] = s.str();
    index << "- [The train block](train.md): epochs, batches, stopping rules, truncated BPTT, clipping, "
             "checkpoints\n";
  }
  pages["README.md"] = index.str();
  return pages;
}

}  // namespace unroll
