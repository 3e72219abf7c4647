#pragma once

namespace gfm::core {

/**
 * @brief Makes sure OpenBLAS runs one thread per caller, before anything trains.
 *
 * OpenBLAS sizes its thread pool from OPENBLAS_NUM_THREADS when the library loads, before
 * main(); lowering it later leaves pool threads that compete with gflowmix's own workers (two
 * workers measured 70k transitions/s with the variable set at start, 58k without). When the
 * variable is unset, this sets it to 1 and re-executes the program (argv unchanged); it
 * returns only when no re-execution was needed or possible.
 */
void ensureSingleThreadedBlas(char** argv);

} // namespace gfm::core
