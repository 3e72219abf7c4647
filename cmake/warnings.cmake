# Project-wide warnings, attached to every gflowmix target through an INTERFACE library.
add_library(gflowmix_warnings INTERFACE)
add_library(gflowmix::warnings ALIAS gflowmix_warnings)
target_compile_options(gflowmix_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
