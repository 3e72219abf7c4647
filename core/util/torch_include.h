#pragma once

// LibTorch's headers use `slots` as an identifier, which Qt defines as a macro. Include torch
// through this header only, and only from .cpp files.
#pragma push_macro("slots")
#undef slots
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#pragma pop_macro("slots")
