include(${CMAKE_CURRENT_LIST_DIR}/NRNMCudaToolkit.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/NRNMCudaArchitectures.cmake)

# The C++ standard a LibTorch's headers require: ATen.h stops with
# "#error C++NN or later compatible compiler is required"; never below 17.
function(nrnm_torch_cxx_standard out)
  set(standard 17)
  foreach(dir IN LISTS TORCH_INCLUDE_DIRS)
    if(EXISTS "${dir}/ATen/ATen.h")
      file(STRINGS "${dir}/ATen/ATen.h" lines REGEX "C\\+\\+[0-9]+ or later compatible compiler is required")
      foreach(line IN LISTS lines)
        if(line MATCHES "C\\+\\+([0-9]+) or later")
          if(CMAKE_MATCH_1 GREATER standard)
            set(standard ${CMAKE_MATCH_1})
          endif()
        endif()
      endforeach()
      break()
    endif()
  endforeach()
  set(${out} ${standard} PARENT_SCOPE)
endfunction()

# nrnm_find_torch(): find_package(Torch REQUIRED), linking the LibTorch whose
# headers it compiles with.
#
# TorchConfig.cmake looks its libraries up with find_library(... PATHS
# <prefix>/lib), and CMake searches the system's library directories before
# PATHS: on a machine with Debian's libtorch-dev, a PyTorch wheel's or a
# downloaded LibTorch would compile against its own headers and link
# Debian's libraries. Putting that LibTorch's prefix first in
# CMAKE_PREFIX_PATH makes find_library look there first; the check after
# find_package stops the build on any other mix.
#
# A CUDA LibTorch first gets its toolkit and the pip CUDA packages found
# (NRNMCudaToolkit.cmake). After find_package, NRNM_CXX_STANDARD is the C++
# standard this LibTorch's headers require (17 for 1.13..2.13, 20 from the
# LibTorch whose ATen.h says "C++20 or later"): a fixed standard would fail
# one of the LibTorch versions users have.
#
# A macro, not a function: find_package's results (TORCH_LIBRARIES, ...)
# must land in the caller's scope.
macro(nrnm_find_torch)
  set(_nrnm_torch_prefixes)
  if(DEFINED Torch_DIR AND EXISTS "${Torch_DIR}/TorchConfig.cmake")
    get_filename_component(_nrnm_prefix "${Torch_DIR}/../../.." ABSOLUTE)
    list(APPEND _nrnm_torch_prefixes "${_nrnm_prefix}")
  endif()
  foreach(_nrnm_entry IN LISTS CMAKE_PREFIX_PATH)
    # torch.utils.cmake_prefix_path is <prefix>/share/cmake
    if(EXISTS "${_nrnm_entry}/Torch/TorchConfig.cmake")
      get_filename_component(_nrnm_prefix "${_nrnm_entry}/../.." ABSOLUTE)
      list(APPEND _nrnm_torch_prefixes "${_nrnm_prefix}")
    endif()
  endforeach()
  if(_nrnm_torch_prefixes)
    list(PREPEND CMAKE_PREFIX_PATH ${_nrnm_torch_prefixes})
  endif()
  set(NRNM_TORCH_HAS_CUDA OFF)
  foreach(_nrnm_prefix IN LISTS _nrnm_torch_prefixes)
    if(NOT NRNM_TORCH_HAS_CUDA AND EXISTS "${_nrnm_prefix}/lib/libtorch_cuda.so")
      set(NRNM_TORCH_HAS_CUDA ON)
      nrnm_prepare_cuda("${_nrnm_prefix}")
      # Before find_package: a CUDA LibTorch's config enables the CUDA
      # language, which fixes the architectures then.
      nrnm_cuda_architectures("${CMAKE_CUDA_COMPILER}")
    endif()
  endforeach()
  set(_nrnm_cuda_architectures "${CMAKE_CUDA_ARCHITECTURES}")
  set(_nrnm_cuda_flags "${CMAKE_CUDA_FLAGS}")
  find_package(Torch REQUIRED)
  # Caffe2's cuda.cmake sets CMAKE_CUDA_ARCHITECTURES to OFF (it warns that
  # it "will ignore" it) and appends to CMAKE_CUDA_FLAGS the -gencode list it
  # guesses without a GPU (sm_50 up, which nvcc 13 refuses) and the flags
  # PyTorch's own .cu files need. nrnm's kernels include no ATen header:
  # they get the architectures asked for here and the user's flags only.
  if(_nrnm_cuda_architectures)
    set(CMAKE_CUDA_ARCHITECTURES "${_nrnm_cuda_architectures}")
  endif()
  set(CMAKE_CUDA_FLAGS "${_nrnm_cuda_flags}")
  if(NRNM_TORCH_HAS_CUDA AND NOT TARGET torch_cuda AND NOT TORCH_CUDA_LIBRARIES)
    message(FATAL_ERROR "nrnm: the LibTorch at ${TORCH_INSTALL_PREFIX} has libtorch_cuda.so but its CMake "
      "config did not set up CUDA (see its warnings above: usually the CUDA toolkit ${NRNM_CUDA_TOOLKIT_ROOT} "
      "is another CUDA version than the torch's). Set CUDA_HOME to the matching toolkit.")
  endif()
  nrnm_torch_cxx_standard(NRNM_CXX_STANDARD)
  get_filename_component(_nrnm_install_prefix "${TORCH_INSTALL_PREFIX}" ABSOLUTE)
  get_filename_component(_nrnm_torch_library "${TORCH_LIBRARY}" REALPATH)
  get_filename_component(_nrnm_install_prefix_real "${_nrnm_install_prefix}" REALPATH)
  string(FIND "${_nrnm_torch_library}" "${_nrnm_install_prefix_real}/" _nrnm_at)
  if(NOT _nrnm_at EQUAL 0)
    message(FATAL_ERROR
      "nrnm: LibTorch's headers come from ${_nrnm_install_prefix} but its library "
      "from ${TORCH_LIBRARY}: two LibTorch installations are mixed. Remove the "
      "build directory and pass the LibTorch to use as LIBTORCH=<its root> "
      "(or -DCMAKE_PREFIX_PATH=<its root>).")
  endif()
endmacro()
