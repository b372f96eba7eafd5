#pragma once

// Learning-rate schedules in the formulas of torch.optim.lr_scheduler, as
// pure functions of the progress, so a resumed run continues them exactly
// and the tests can hold each to PyTorch's values.

#include <cstdint>
#include <limits>

namespace nrnm {

/// Linear warm-up over `warmup_steps` optimizer steps: the factor of step s
/// (counted from 0) is (s + 1) / W while s < W, then 1; as PyTorch's
/// LinearLR(start_factor=1/W, total_iters=W-1) stepped once per batch.
/// W = 0: no warm-up (1).
double warmup_factor(int64_t step, int64_t warmup_steps);

/// CosineAnnealingLR's closed form after `epoch` epochs:
/// min_lr + (base_lr - min_lr) (1 + cos(pi epoch / t_max)) / 2 (periodic
/// past t_max, as PyTorch's).
double cosine_lr(double base_lr, double min_lr, int64_t epoch, int64_t t_max);

/// What ReduceLROnPlateau keeps between epochs.
struct PlateauState {
  /// The best metric so far; NaN before the first.
  double best = std::numeric_limits<double>::quiet_NaN();
  /// Evaluations since the last improvement.
  int64_t bad_epochs = 0;
};

/// ReduceLROnPlateau.step(metric) with threshold 1e-4 ('rel'), cooldown 0
/// and eps 1e-8 (PyTorch's defaults): after more than `patience`
/// evaluations without improvement the learning rate becomes
/// max(lr * factor, min_lr). Returns the new learning rate.
double plateau_step(PlateauState& state, double metric, bool maximize, double lr, double factor, int64_t patience,
                    double min_lr);

}  // namespace nrnm
