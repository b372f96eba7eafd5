#pragma once

// The typed exceptions of the core. Each stands for one kind of failure the
// caller can act on; the Node binding maps each to one stable error code
// (native/binding/errors.cpp), so no caller has to classify messages.

#include <stdexcept>
#include <string>

namespace nrnm {

/// A file or byte buffer that is not what it should be: corrupted,
/// truncated, crafted or of another format (ERR_FORMAT). The message names
/// the source it was read from.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A tensor whose shape does not fit where it goes, e.g. a state dict
/// entry of another size than the model's parameter (ERR_SHAPE). The
/// message names the tensor and both shapes.
class ShapeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Training diverged: the loss or the gradient norm of a step became NaN or
/// infinite, and the update was not applied (ERR_NON_FINITE).
class NonFiniteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The ranks of a data-parallel run could not meet or work together: one
/// did not start or stopped, they were started with different options, a
/// rank was started twice, or the store's port is held by another program
/// (ERR_DISTRIBUTED). The message names this rank, the other ranks and what
/// to change.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace nrnm
