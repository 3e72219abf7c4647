#include "core/mixture/partition.h"

#include "core/util/random.h"

#include <cmath>
#include <limits>

namespace gfm::core {

std::vector<std::int32_t> nearestModePartition(const Hypergrid& grid)
{
  std::vector<std::int32_t> part(static_cast<std::size_t>(grid.stateCount()));
  std::vector<std::int32_t> coords(static_cast<std::size_t>(grid.dim()));
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    grid.coordsOf(s, coords.data());
    std::int32_t mask = 0;
    for (int d = 0; d < grid.dim(); ++d) {
      if (2 * coords[static_cast<std::size_t>(d)] > grid.height() - 1) {
        mask |= 1 << d;
      }
    }
    part[static_cast<std::size_t>(s)] = mask;
  }
  return part;
}

std::vector<double> hypergridFeatures(const Hypergrid& grid)
{
  const int dim = grid.dim();
  std::vector<double> features(static_cast<std::size_t>(grid.stateCount() * dim));
  std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    grid.coordsOf(s, coords.data());
    for (int d = 0; d < dim; ++d) {
      features[static_cast<std::size_t>(s * dim + d)] = coords[static_cast<std::size_t>(d)];
    }
  }
  return features;
}

std::vector<std::int32_t> randomSpherePartition(const std::vector<double>& features,
                                                int width,
                                                const std::vector<double>& centre,
                                                int parts,
                                                bool centred,
                                                std::uint64_t seed)
{
  Rng rng(seed);
  std::vector<double> w(static_cast<std::size_t>(parts * width));
  for (double& v : w) {
    v = rng.normal();
  }
  const std::size_t rows = features.size() / static_cast<std::size_t>(width);

  // f̂ of every row; zero vectors stay zero (and go to part 0 below).
  std::vector<double> unit(features.size());
  std::vector<bool> zero(rows, false);
  for (std::size_t r = 0; r < rows; ++r) {
    double norm = 0.0;
    for (int j = 0; j < width; ++j) {
      const std::size_t i = r * static_cast<std::size_t>(width) + static_cast<std::size_t>(j);
      unit[i] = features[i] - (centred ? centre[static_cast<std::size_t>(j)] : 0.0);
      norm += unit[i] * unit[i];
    }
    norm = std::sqrt(norm);
    zero[r] = norm == 0.0;
    for (int j = 0; j < width && !zero[r]; ++j) {
      unit[r * static_cast<std::size_t>(width) + static_cast<std::size_t>(j)] /= norm;
    }
  }

  std::vector<double> bias(static_cast<std::size_t>(parts), 0.0);
  if (!centred && rows > 0) {
    std::vector<double> mean(static_cast<std::size_t>(width), 0.0);
    for (std::size_t r = 0; r < rows; ++r) {
      for (int j = 0; j < width; ++j) {
        mean[static_cast<std::size_t>(j)] +=
          unit[r * static_cast<std::size_t>(width) + static_cast<std::size_t>(j)] /
          static_cast<double>(rows);
      }
    }
    for (int i = 0; i < parts; ++i) {
      for (int j = 0; j < width; ++j) {
        bias[static_cast<std::size_t>(i)] -=
          w[static_cast<std::size_t>(i * width + j)] * mean[static_cast<std::size_t>(j)];
      }
    }
  }

  std::vector<std::int32_t> part(rows, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    if (zero[r]) {
      continue;
    }
    double best = -std::numeric_limits<double>::infinity();
    for (int i = 0; i < parts; ++i) {
      double score = bias[static_cast<std::size_t>(i)];
      for (int j = 0; j < width; ++j) {
        score += w[static_cast<std::size_t>(i * width + j)] *
                 unit[r * static_cast<std::size_t>(width) + static_cast<std::size_t>(j)];
      }
      if (score > best) {
        best = score;
        part[r] = i;
      }
    }
  }
  return part;
}

namespace {

double squaredDistance(const double* a, const double* b, int width)
{
  double sum = 0.0;
  for (int j = 0; j < width; ++j) {
    sum += (a[j] - b[j]) * (a[j] - b[j]);
  }
  return sum;
}

} // namespace

std::vector<std::int32_t> nearestCentroid(const std::vector<double>& features,
                                          int width,
                                          const std::vector<double>& centroids)
{
  const std::size_t rows = features.size() / static_cast<std::size_t>(width);
  const std::size_t k = centroids.size() / static_cast<std::size_t>(width);
  std::vector<std::int32_t> part(rows, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < k; ++c) {
      const double dist = squaredDistance(&features[r * static_cast<std::size_t>(width)],
                                          &centroids[c * static_cast<std::size_t>(width)],
                                          width);
      if (dist < best) {
        best = dist;
        part[r] = static_cast<std::int32_t>(c);
      }
    }
  }
  return part;
}

std::vector<double> kMeansCentroids(const std::vector<double>& reference,
                                    int width,
                                    int parts,
                                    std::uint64_t seed,
                                    int iterations)
{
  Rng rng(seed);
  const std::size_t rows = reference.size() / static_cast<std::size_t>(width);
  const auto w = static_cast<std::size_t>(width);
  std::vector<double> centroids;
  centroids.reserve(static_cast<std::size_t>(parts) * w);

  // k-means++: each next centroid is drawn with probability proportional to D(x)².
  const std::size_t first = rng.below(rows);
  centroids.insert(centroids.end(), &reference[first * w], &reference[first * w] + width);
  std::vector<double> nearest(rows, std::numeric_limits<double>::infinity());
  for (int c = 1; c < parts; ++c) {
    const double* last = &centroids[static_cast<std::size_t>(c - 1) * w];
    double total = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
      nearest[r] = std::min(nearest[r], squaredDistance(&reference[r * w], last, width));
      total += nearest[r];
    }
    std::size_t pick = rng.below(rows);
    if (total > 0.0) {
      double u = rng.uniform() * total;
      for (std::size_t r = 0; r < rows; ++r) {
        u -= nearest[r];
        if (u < 0.0) {
          pick = r;
          break;
        }
      }
    }
    centroids.insert(centroids.end(), &reference[pick * w], &reference[pick * w] + width);
  }

  std::vector<std::int32_t> assignment;
  for (int it = 0; it < iterations; ++it) {
    std::vector<std::int32_t> next = nearestCentroid(reference, width, centroids);
    if (next == assignment) {
      break;
    }
    assignment = std::move(next);
    std::vector<double> sums(centroids.size(), 0.0);
    std::vector<int> counts(static_cast<std::size_t>(parts), 0);
    for (std::size_t r = 0; r < rows; ++r) {
      const auto c = static_cast<std::size_t>(assignment[r]);
      ++counts[c];
      for (std::size_t j = 0; j < w; ++j) {
        sums[c * w + j] += reference[r * w + j];
      }
    }
    // An emptied cluster keeps its centroid rather than collapsing onto another.
    for (std::size_t c = 0; c < static_cast<std::size_t>(parts); ++c) {
      if (counts[c] > 0) {
        for (std::size_t j = 0; j < w; ++j) {
          centroids[c * w + j] = sums[c * w + j] / counts[c];
        }
      }
    }
  }
  return centroids;
}

int partCount(const Hypergrid& grid, const PartitionSpec& spec)
{
  switch (spec.kind) {
    case PartitionKind::None:
      return 1;
    case PartitionKind::NearestMode:
      return 1 << grid.dim();
    case PartitionKind::RandomSphere:
    case PartitionKind::KMeans:
      return spec.parts;
  }
  return 1;
}

std::vector<std::int32_t> partitionHypergrid(const Hypergrid& grid,
                                             const PartitionSpec& spec,
                                             std::uint64_t seed)
{
  switch (spec.kind) {
    case PartitionKind::None:
      return std::vector<std::int32_t>(static_cast<std::size_t>(grid.stateCount()), 0);
    case PartitionKind::NearestMode:
      return nearestModePartition(grid);
    case PartitionKind::RandomSphere: {
      const std::vector<double> centre(static_cast<std::size_t>(grid.dim()),
                                       (grid.height() - 1) / 2.0);
      return randomSpherePartition(
        hypergridFeatures(grid), grid.dim(), centre, spec.parts, spec.centred, seed);
    }
    case PartitionKind::KMeans: {
      // The reference sample is uniform over the grid: the hypergrid's "known molecules".
      Rng rng(deriveSeed(seed, 1));
      const std::vector<double> all = hypergridFeatures(grid);
      const auto dim = static_cast<std::size_t>(grid.dim());
      std::vector<double> reference;
      for (int i = 0; i < spec.referenceSize; ++i) {
        const std::size_t s = rng.below(static_cast<std::uint64_t>(grid.stateCount()));
        reference.insert(reference.end(), &all[s * dim], &all[s * dim] + dim);
      }
      const std::vector<double> centroids =
        kMeansCentroids(reference, grid.dim(), spec.parts, seed);
      return nearestCentroid(all, grid.dim(), centroids);
    }
  }
  return {};
}

} // namespace gfm::core
