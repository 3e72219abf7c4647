#pragma once

// The full LibTorch API (autograd, torch::nn, torch::optim), for the few .cpp files and tests
// that need more than ATen. Same guard as torch_include.h: torch uses `slots` as an identifier,
// which Qt defines as a macro. Costs ~30 s of compile time per file; prefer torch_include.h.
#pragma push_macro("slots")
#undef slots
#include <torch/torch.h>
#pragma pop_macro("slots")
