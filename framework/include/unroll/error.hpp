#pragma once
// The one exception type of unroll. It is defined in the host library (libunroll) so that its
// type_info has a single home: a plugin throws it, the host catches it, and neither depends
// on the other's copy of the RTTI: type_info defined in a plugin dies with the plugin's library,
// and under hidden visibility two copies of it do not compare equal.
#include <stdexcept>
#include <string>

namespace unroll {

/// Any error a user can fix: bad config, missing file, wrong shapes, bad plugin.
/// The message is complete and printable as is ("file:line:col: what is wrong ...").
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);
  ~Error() override;
};

}  // namespace unroll
