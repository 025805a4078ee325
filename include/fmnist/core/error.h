// The one exception type of fmnist_dist: input problems (files, options, checkpoints)
// are reported by throwing it with a one-line message naming what was expected and found.
#pragma once

#include <stdexcept>
#include <string>

namespace fmnist {

/// A user-facing error: `what()` is a single line, ready to print as it is. `exit_code` is the
/// process status main ends the job with (1 unless a documented one applies, e.g. a stall).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace fmnist
