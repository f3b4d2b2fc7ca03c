#pragma once
// What an experiment file may hold, for `unroll plugins --describe experiment`: its sections (in
// file order) with what each takes and its default, and the host's own options that every data
// and layer block accepts besides its plugin's. The train: block has its own schema
// (train_schema(), experiment.hpp).
#include <string>
#include <vector>

namespace unroll {

class Schema;

/// One top-level key of an experiment file.
struct ExperimentSection {
  std::string key;           // "data", "model", ...
  std::string takes;         // "a dataset block", "a list of layer blocks", ...
  std::string default_yaml;  // what an absent section means ("" when it is required or empty)
  std::string doc;
};

/// Every top-level key, in the order the reference docs and --describe print them.
const std::vector<ExperimentSection>& experiment_sections();
/// name, description and seed.
const Schema& experiment_top_schema();
/// Options the host adds to the data block (validation).
const Schema& data_host_schema();
/// Options the host adds to every layer block (name).
const Schema& layer_host_schema();

}  // namespace unroll
