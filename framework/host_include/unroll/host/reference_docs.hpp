#pragma once
// The generated reference: one Markdown page per component kind (layers.md, losses.md, ...),
// plus train.md for the host's own `train:` block and README.md as the index, all made from the
// schemas the components register. `unroll plugins --markdown DIR` writes them; tests/test_docs.cpp
// regenerates them in memory and fails when docs/reference/ differs, so the docs cannot drift.
#include <map>
#include <string>

namespace unroll {

class ComponentTable;

/// File name -> page text, for every kind (a kind with no components still gets its page).
std::map<std::string, std::string> reference_pages(const ComponentTable& registry);

}  // namespace unroll
