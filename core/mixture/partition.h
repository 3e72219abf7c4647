#pragma once

#include "core/env/hypergrid.h"
#include "core/run/experiment_spec.h"

#include <cstdint>
#include <vector>

namespace gfm::core {

/**
 * @brief The paper's perfect partition: 2^D orthants around the grid centre.
 *
 * Coordinate d is on the upper side iff 2·x_d > H − 1 (x_d ≥ H/2 for even H); for odd H the
 * middle cells, equidistant from both sides, go to the lower side. Part index = bit mask of the
 * upper sides. Returns the part of every state, row-major.
 */
std::vector<std::int32_t> nearestModePartition(const Hypergrid& grid);

/**
 * @brief The paper's random partition: part = argmax_i (W f̂ + b)_i, W ~ N(0, 1)^{k×d} seeded.
 *
 * `features` holds n rows of `width` values. Centred (the default): f = row − centre, b = 0, so
 * every boundary passes through the centre and the parts are cones. Uncentred (the paper's
 * literal reading): f = row, b = −W·mean(f̂). A zero vector goes to part 0.
 */
std::vector<std::int32_t> randomSpherePartition(const std::vector<double>& features,
                                                int width,
                                                const std::vector<double>& centre,
                                                int parts,
                                                bool centred,
                                                std::uint64_t seed);

/**
 * @brief k-means (Lloyd's algorithm, k-means++ seeding) on reference rows; returns k centroids
 * of `width` values each, row-major.
 */
std::vector<double> kMeansCentroids(const std::vector<double>& reference,
                                    int width,
                                    int parts,
                                    std::uint64_t seed,
                                    int iterations = 100);

/** @brief Index of the nearest centroid (squared Euclidean) of every row. */
std::vector<std::int32_t> nearestCentroid(const std::vector<double>& features,
                                          int width,
                                          const std::vector<double>& centroids);

/** @brief Coordinates of every hypergrid state as double feature rows (n × D). */
std::vector<double> hypergridFeatures(const Hypergrid& grid);

/**
 * @brief The partition a run entry asks for on the hypergrid, for one seed.
 * PartitionKind::None gives every state part 0.
 */
std::vector<std::int32_t> partitionHypergrid(const Hypergrid& grid,
                                             const PartitionSpec& spec,
                                             std::uint64_t seed);

/** @brief Number of parts the spec yields on this grid (2^D for nearest-mode). */
int partCount(const Hypergrid& grid, const PartitionSpec& spec);

} // namespace gfm::core
