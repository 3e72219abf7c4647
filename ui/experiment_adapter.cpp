// Reads an ExperimentDescription from a live Experiment. Kept apart from the description
// itself so that the views link without the experiment runner (view tests, replay).

#include "ui/experiment_description.h"

#include "core/run/experiment.h"

#include <algorithm>

namespace gfm::ui {

ExperimentDescription ExperimentDescription::fromExperiment(const core::Experiment& experiment)
{
  ExperimentDescription description;
  description.name = experiment.spec().name;
  description.grid = experiment.grid().spec();
  description.target = experiment.target();
  description.stepsPerPart = experiment.spec().training.steps;

  for (const core::RunPlan& plan : experiment.runs()) {
    RunDescription run;
    run.name = plan.name;
    run.group = plan.group;
    run.seed = plan.seed;
    run.parts = plan.parts;
    run.partOf = plan.partOf;
    description.runs.push_back(run);
    description.stepsPerPart = std::max(description.stepsPerPart, plan.training.steps);
  }
  return description;
}

} // namespace gfm::ui
