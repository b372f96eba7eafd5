#include "nrnm/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace nrnm {

double warmup_factor(int64_t step, int64_t warmup_steps) {
  if (warmup_steps <= 0 || step >= warmup_steps) return 1.0;
  return static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
}

double cosine_lr(double base_lr, double min_lr, int64_t epoch, int64_t t_max) {
  const double pi = std::acos(-1.0);
  return min_lr + (base_lr - min_lr) * (1 + std::cos(pi * static_cast<double>(epoch) / static_cast<double>(t_max))) / 2;
}

double plateau_step(PlateauState& state, double metric, bool maximize, double lr, double factor, int64_t patience,
                    double min_lr) {
  constexpr double kThreshold = 1e-4;
  constexpr double kEps = 1e-8;
  const bool first = std::isnan(state.best);
  const bool better =
      first || (maximize ? metric > state.best * (1 + kThreshold) : metric < state.best * (1 - kThreshold));
  if (better) {
    state.best = metric;
    state.bad_epochs = 0;
  } else {
    ++state.bad_epochs;
  }
  if (state.bad_epochs > patience) {
    state.bad_epochs = 0;
    const double reduced = std::max(lr * factor, min_lr);
    if (lr - reduced > kEps) return reduced;
  }
  return lr;
}

}  // namespace nrnm
