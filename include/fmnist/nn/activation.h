// Activations that Dense and Conv2D fuse into their output pass.
#pragma once

#include <string>

namespace fmnist {

enum class Activation { kLinear, kRelu };

inline const char* activation_name(Activation a) { return a == Activation::kRelu ? "relu" : "linear"; }

}  // namespace fmnist
