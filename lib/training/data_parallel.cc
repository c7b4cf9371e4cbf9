#include "lib/training/data_parallel.h"

#include "lib/training/optimizer.h"

namespace r1rl::learner {

absl::StatusOr<double> DataParallel::OptimizerStep(model::Policy&, Optimizer& optimizer) {
  return optimizer.Step();
}

}  // namespace r1rl::learner
