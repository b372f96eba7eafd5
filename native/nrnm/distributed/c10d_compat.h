#pragma once

// The c10d API differences between the LibTorch versions nrnm builds against
// (Debian's 1.13, PyTorch 2.x wheels), and every c10d / Gloo include, in one
// place. ProcessGroupGloo.hpp includes Gloo's own headers, which no LibTorch
// ships: Debian's libgloo-dev provides them (native/nrnm/CMakeLists.txt
// checks for them).

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#if defined(NRNM_WITH_CUDA) && defined(USE_C10D_NCCL)
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define NRNM_WITH_NCCL 1
#else
#define NRNM_WITH_NCCL 0
#endif

namespace nrnm {

// What runs collectives: in 1.13 ProcessGroupGloo is itself a ProcessGroup;
// from 2.0 on it is a c10d::Backend (which a ProcessGroup dispatches to).
// Both have broadcast / allreduce / barrier with the same signatures, so nrnm
// calls the backend directly and needs no ProcessGroup wrapper.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

}  // namespace nrnm
