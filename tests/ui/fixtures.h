#pragma once

// Hand-made experiment descriptions and snapshots for the view tests: no training involved.

#include "core/env/hypergrid.h"
#include "core/run/snapshot.h"
#include "ui/experiment_description.h"

#include <cmath>
#include <memory>
#include <vector>

namespace gfm::ui::fixtures {

/** Orthant of each cell around the centre (the "perfect" partition of an even grid). */
inline std::vector<std::int32_t> orthants(const core::Hypergrid& grid)
{
  std::vector<std::int32_t> parts(static_cast<std::size_t>(grid.stateCount()));
  std::vector<std::int32_t> coords(static_cast<std::size_t>(grid.dim()));
  for (std::int64_t i = 0; i < grid.stateCount(); ++i) {
    grid.coordsOf(i, coords.data());
    int part = 0;
    for (int d = 0; d < grid.dim(); ++d) {
      part = part * 2 + (coords[static_cast<std::size_t>(d)] >= grid.height() / 2 ? 1 : 0);
    }
    parts[static_cast<std::size_t>(i)] = part;
  }
  return parts;
}

/**
 * Runs: 0 "standard" (1 part), 1 "perfect" (2^D parts), 2 and 3 "random-s0/s1" (group
 * "random", 2^D orthant parts), on a hypergrid of dimension `dim` and height `height`.
 */
inline ExperimentDescription description(int dim = 2, int height = 8)
{
  core::HypergridSpec spec;
  spec.dim = dim;
  spec.height = height;
  spec.r0 = 0.1;
  const core::Hypergrid grid(spec);

  ExperimentDescription d;
  d.name = QStringLiteral("fixture");
  d.grid = spec;
  d.target = grid.target();
  d.stepsPerPart = 1000;
  const auto partOf = std::make_shared<const std::vector<std::int32_t>>(orthants(grid));
  const auto none = std::make_shared<const std::vector<std::int32_t>>(
    static_cast<std::size_t>(grid.stateCount()), 0);
  d.runs.push_back({ QStringLiteral("standard"), QStringLiteral("standard"), 0, 1, none });
  d.runs.push_back({ QStringLiteral("perfect"), QStringLiteral("perfect"), 0, 1 << dim, partOf });
  d.runs.push_back({ QStringLiteral("random-s0"), QStringLiteral("random"), 0, 1 << dim, partOf });
  d.runs.push_back({ QStringLiteral("random-s1"), QStringLiteral("random"), 1, 1 << dim, partOf });
  return d;
}

/** A distinct, normalised density: p(x) ∝ 1 + ((x·7 + salt) mod 11). */
inline std::vector<float> density(std::int64_t states, int salt)
{
  std::vector<float> p(static_cast<std::size_t>(states));
  double sum = 0.0;
  for (std::int64_t i = 0; i < states; ++i) {
    p[static_cast<std::size_t>(i)] = static_cast<float>(1 + (i * 7 + salt) % 11);
    sum += p[static_cast<std::size_t>(i)];
  }
  for (float& v : p) {
    v = static_cast<float>(v / sum);
  }
  return p;
}

/** A snapshot of run `run` at `step` with L1 `l1`, densities made by density(). */
inline core::SnapshotPtr snapshot(const ExperimentDescription& d,
                                  int run,
                                  std::int64_t step,
                                  double l1,
                                  double wallSeconds = 0.0)
{
  auto s = std::make_shared<core::Snapshot>();
  const RunDescription& r = d.runs[static_cast<std::size_t>(run)];
  s->run = run;
  s->runName = r.name;
  s->group = r.group;
  s->seed = r.seed;
  s->step = step;
  s->totalSteps = d.stepsPerPart;
  s->wallSeconds = wallSeconds;
  s->l1 = l1;
  s->tv = l1 / 2;
  s->logZ = 3.0 + 0.001 * static_cast<double>(step);
  s->logZTrue = 3.1;
  s->loss = 10.0 / (1.0 + static_cast<double>(step));
  s->density = density(d.stateCount(), run * 3 + static_cast<int>(step % 5));
  for (int i = 0; i < r.parts; ++i) {
    core::PartSnapshot part;
    part.logZ = 0.5 * i + 0.1;
    part.logZTrue = 0.5 * i;
    part.weight = 1.0 / r.parts;
    s->parts.push_back(part);
    s->partDensities.push_back(density(d.stateCount(), 100 + i));
  }
  return s;
}

} // namespace gfm::ui::fixtures
