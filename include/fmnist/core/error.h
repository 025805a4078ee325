// The one exception type of fmnist_dist: input problems (files, options, checkpoints)
// are reported by throwing it with a one-line message naming what was expected and found.
#pragma once

#include <stdexcept>
#include <string>

namespace fmnist {

/// A user-facing error: `what()` is a single line, ready to print as it is.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace fmnist
