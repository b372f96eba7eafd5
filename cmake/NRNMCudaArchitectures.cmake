# The GPU architectures the fused kernels (native/kernels) are compiled for:
# the one place that decides them.
#
# nrnm_cuda_architectures(<nvcc>): sets CMAKE_CUDA_ARCHITECTURES, before the
# CUDA language is enabled, unless the user chose (-DCMAKE_CUDA_ARCHITECTURES=...,
# or CUDAARCHS=... in the environment, which wins over an earlier configure's
# choice so that `CUDAARCHS=75 npx nrnm-native build` rebuilds for it). The
# default covers the GPUs people have, as far as this nvcc can build them
# (`nvcc --list-gpu-code`):
#   CUDA 12: sm_70 (V100), sm_75 (T4), sm_80 (A100), sm_86 (A10, RTX 30xx, also
#            L4/RTX 40xx), sm_90 (H100/H200)
#   CUDA 13: sm_75, sm_80, sm_86, sm_90, sm_100 (B200), sm_120 (RTX 50xx); no sm_70
# as machine code, plus PTX of the lowest, which the driver JIT-compiles on
# every newer GPU (sm_89, sm_103, sm_110, ...). Each architecture costs about
# the same size in the binary (README, "Building for CUDA").
#
# A macro: the variable lands in the caller's scope, which the CUDA language
# (and Caffe2's config, cmake/NRNMFindTorch.cmake) reads.
macro(nrnm_cuda_architectures nvcc)
  if(DEFINED ENV{CUDAARCHS} AND NOT "$ENV{CUDAARCHS}" STREQUAL "")
    set(CMAKE_CUDA_ARCHITECTURES "$ENV{CUDAARCHS}")
    message(STATUS "nrnm: CUDA architectures from CUDAARCHS: ${CMAKE_CUDA_ARCHITECTURES}")
  elseif(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    execute_process(COMMAND "${nvcc}" --version OUTPUT_VARIABLE _nrnm_nvcc_version ERROR_QUIET)
    execute_process(COMMAND "${nvcc}" --list-gpu-code OUTPUT_VARIABLE _nrnm_nvcc_codes ERROR_QUIET)
    set(_nrnm_cuda_major 12)
    if(_nrnm_nvcc_version MATCHES "release ([0-9]+)\\.")
      set(_nrnm_cuda_major ${CMAKE_MATCH_1})
    endif()
    if(_nrnm_cuda_major GREATER_EQUAL 13)
      set(_nrnm_wanted 75 80 86 90 100 120)
    else()
      set(_nrnm_wanted 70 75 80 86 90)
    endif()
    set(CMAKE_CUDA_ARCHITECTURES)
    foreach(_nrnm_arch IN LISTS _nrnm_wanted)
      # (CUDA 11's nvcc has no --list-gpu-code: keep the whole list then.)
      if(NOT _nrnm_nvcc_codes OR _nrnm_nvcc_codes MATCHES "sm_${_nrnm_arch}\n")
        if(CMAKE_CUDA_ARCHITECTURES)
          list(APPEND CMAKE_CUDA_ARCHITECTURES "${_nrnm_arch}-real")
        else()
          list(APPEND CMAKE_CUDA_ARCHITECTURES "${_nrnm_arch}")  # machine code and PTX
        endif()
      endif()
    endforeach()
    message(STATUS "nrnm: CUDA ${_nrnm_cuda_major}: kernels for ${CMAKE_CUDA_ARCHITECTURES} (CUDAARCHS=... overrides)")
  endif()
endmacro()

# nrnm_cuda_image_lists(<sass out> <ptx out>): the machine code and PTX
# architectures of CMAKE_CUDA_ARCHITECTURES ("75;80-real" -> 75,80 and 75),
# comma-separated; both empty for native/all/all-major, which CMake resolves itself.
function(nrnm_cuda_image_lists sass_out ptx_out)
  set(sass)
  set(ptx)
  foreach(arch IN LISTS CMAKE_CUDA_ARCHITECTURES)
    if(arch MATCHES "^([0-9]+[a-z]?)-real$")
      list(APPEND sass "${CMAKE_MATCH_1}")
    elseif(arch MATCHES "^([0-9]+[a-z]?)-virtual$")
      list(APPEND ptx "${CMAKE_MATCH_1}")
    elseif(arch MATCHES "^[0-9]+[a-z]?$")
      list(APPEND sass "${arch}")
      list(APPEND ptx "${arch}")
    endif()
  endforeach()
  string(REPLACE ";" "," sass "${sass}")
  string(REPLACE ";" "," ptx "${ptx}")
  set(${sass_out} "${sass}" PARENT_SCOPE)
  set(${ptx_out} "${ptx}" PARENT_SCOPE)
endfunction()
