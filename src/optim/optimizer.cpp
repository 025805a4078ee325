// Optimizer names and the factory.
#include "fmnist/optim/optimizer.h"

#include "fmnist/core/error.h"
#include "fmnist/optim/adam.h"
#include "fmnist/optim/sgd.h"

namespace fmnist {

OptimizerKind parse_optimizer_kind(const std::string& name) {
  if (name == "sgd") return OptimizerKind::kSgd;
  if (name == "adam") return OptimizerKind::kAdam;
  throw Error("--optimizer: expected 'sgd' or 'adam', found '" + name + "'");
}

const char* optimizer_kind_name(OptimizerKind kind) { return kind == OptimizerKind::kSgd ? "sgd" : "adam"; }

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, std::size_t size) {
  if (options.kind == OptimizerKind::kSgd) return std::make_unique<Sgd>(options, size);
  return std::make_unique<Adam>(options, size);
}

}  // namespace fmnist
