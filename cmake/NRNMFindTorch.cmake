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
  find_package(Torch REQUIRED)
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
