// libFuzzer target: the --config file parser (Boost.Program_options' config-file syntax, then
// every value check of the command line) on arbitrary bytes. Only a CliOptions or
// fmnist::Error may come out.
#include <cstddef>
#include <cstdint>

#include "fmnist/app/cli.h"
#include "fmnist/core/error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = fmnist::write_fuzz_input(data, size);
  const char* argv[] = {"fmnist_dist", "--config", path.c_str()};
  try {
    fmnist::parse_command_line(3, argv);
  } catch (const fmnist::Error&) {
  }
  return 0;
}
