# nrnm_prepare_cuda(<torch prefix>): before find_package(Torch) on a CUDA
# LibTorch, find what its Caffe2Config needs and cannot find by itself.
#
# - The CUDA toolkit (nvcc, cudart), the way CUDA users name it:
#   CUDAToolkit_ROOT, CUDA_HOME, CUDA_PATH, `nvcc` on PATH (a wrapper script
#   there is followed through `nvcc -dryrun`), /usr/local/cuda. Caffe2's
#   cuda.cmake uses the old FindCUDA, which does not look at CUDA_HOME.
# - The CUDA libraries and headers a minimal toolkit lacks (NVRTC; cuBLAS,
#   cuSPARSE, cuDNN... headers that ATen/cuda includes; NCCL): a pip-installed
#   torch brings them as nvidia-* packages next to it, in
#   site-packages/nvidia/cu13/{include,lib} (CUDA 13 wheels) or
#   site-packages/nvidia/<lib>/{include,lib} (CUDA 12 wheels), with only the
#   versioned libfoo.so.N there, which find_library does not match.
#
# Sets in the caller's scope: NRNM_CUDA_TOOLKIT_ROOT, NRNM_CUDA_EXTRA_INCLUDE_DIRS
# (to add to the targets that include ATen/cuda), NRNM_CUDA_EXTRA_LIB_DIRS,
# NRNM_NCCL_INCLUDE_DIR (empty without nccl.h) and NRNM_CUDA_MAPPED (a
# "name=path" list for the build's report).

function(_nrnm_toolkit_at dir out)
  if(dir AND EXISTS "${dir}/bin/nvcc" AND EXISTS "${dir}/include/cuda_runtime_api.h")
    get_filename_component(dir "${dir}" REALPATH)
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

function(_nrnm_find_cuda_toolkit out tried_out)
  set(tried)
  set(candidates)
  foreach(name CUDAToolkit_ROOT CUDA_TOOLKIT_ROOT_DIR)
    if(${name})
      list(APPEND candidates "${name}=${${name}}")
    endif()
  endforeach()
  foreach(name CUDAToolkit_ROOT CUDA_HOME CUDA_PATH)
    if(DEFINED ENV{${name}} AND NOT "$ENV{${name}}" STREQUAL "")
      list(APPEND candidates "${name}=$ENV{${name}}")
    endif()
  endforeach()
  foreach(candidate IN LISTS candidates)
    string(REGEX REPLACE "^[^=]*=" "" dir "${candidate}")
    _nrnm_toolkit_at("${dir}" root)
    if(root)
      set(${out} "${root}" PARENT_SCOPE)
      return()
    endif()
    # A name the user gave that points at no toolkit is an error, not a hint
    # to silently use another one.
    message(FATAL_ERROR "nrnm: ${candidate} is not a CUDA toolkit (no bin/nvcc and "
      "include/cuda_runtime_api.h there). Point it at the toolkit's root, e.g. /usr/local/cuda.")
  endforeach()
  # (A loop over PATH, not find_program: no cache entry, CMake 3.18.)
  set(_nrnm_nvcc "")
  string(REPLACE ":" ";" path_dirs "$ENV{PATH}")
  foreach(dir IN LISTS path_dirs)
    if(NOT _nrnm_nvcc AND dir AND EXISTS "${dir}/nvcc" AND NOT IS_DIRECTORY "${dir}/nvcc")
      set(_nrnm_nvcc "${dir}/nvcc")
    endif()
  endforeach()
  if(_nrnm_nvcc)
    get_filename_component(nvcc_real "${_nrnm_nvcc}" REALPATH)
    get_filename_component(dir "${nvcc_real}" DIRECTORY)
    _nrnm_toolkit_at("${dir}/.." root)
    if(NOT root)
      # A wrapper script (e.g. /usr/local/bin/nvcc exec-ing the real one):
      # nvcc itself says where its toolkit is.
      execute_process(COMMAND "${_nrnm_nvcc}" -dryrun -c "${CMAKE_CURRENT_LIST_FILE}" -x cu -o /dev/null
        OUTPUT_VARIABLE dry ERROR_VARIABLE dry RESULT_VARIABLE ignored)
      if(dry MATCHES "TOP=([^\n]+)")
        _nrnm_toolkit_at("${CMAKE_MATCH_1}/.." root)
      endif()
    endif()
    list(APPEND tried "nvcc on PATH (${_nrnm_nvcc})")
    if(root)
      set(${out} "${root}" PARENT_SCOPE)
      return()
    endif()
  else()
    list(APPEND tried "nvcc on PATH (none)")
  endif()
  _nrnm_toolkit_at(/usr/local/cuda root)
  list(APPEND tried "/usr/local/cuda")
  set(${out} "${root}" PARENT_SCOPE)
  set(${tried_out} "${tried}" PARENT_SCOPE)
endfunction()

# The first existing file among <dir>/lib<name>.so and <dir>/lib<name>.so.<N>.
function(_nrnm_find_versioned_lib out name)
  foreach(dir IN LISTS ARGN)
    if(EXISTS "${dir}/lib${name}.so")
      set(${out} "${dir}/lib${name}.so" PARENT_SCOPE)
      return()
    endif()
    file(GLOB versioned "${dir}/lib${name}.so.[0-9]*")
    if(versioned)
      list(SORT versioned)
      list(GET versioned 0 first)
      set(${out} "${first}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

macro(nrnm_prepare_cuda torch_prefix)
  _nrnm_find_cuda_toolkit(NRNM_CUDA_TOOLKIT_ROOT _nrnm_tried)
  if(NOT NRNM_CUDA_TOOLKIT_ROOT)
    string(REPLACE ";" ", " _nrnm_tried "${_nrnm_tried}")
    message(FATAL_ERROR "nrnm: the LibTorch at ${torch_prefix} is a CUDA build, and building against "
      "it needs the CUDA toolkit (nvcc), which was not found (looked at CUDAToolkit_ROOT, CUDA_HOME, "
      "CUDA_PATH, ${_nrnm_tried}). Install the toolkit of the CUDA version this torch was built for "
      "and set CUDA_HOME=<its root>, or build against a CPU LibTorch (LIBTORCH=<cpu libtorch>, or "
      "NRNM_NO_PYTHON_TORCH=1 for Debian's).")
  endif()
  # Every name the CMake CUDA modules (old FindCUDA, FindCUDAToolkit, the
  # CUDA language) read, so that they agree on one toolkit.
  set(CUDAToolkit_ROOT "${NRNM_CUDA_TOOLKIT_ROOT}")
  set(CUDA_TOOLKIT_ROOT_DIR "${NRNM_CUDA_TOOLKIT_ROOT}" CACHE PATH "CUDA toolkit (found by nrnm)")
  if(NOT CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_COMPILER "${NRNM_CUDA_TOOLKIT_ROOT}/bin/nvcc" CACHE FILEPATH "CUDA compiler (found by nrnm)")
  endif()

  # The nvidia-* pip packages next to a pip torch (site-packages/torch/..).
  get_filename_component(_nrnm_site "${torch_prefix}/.." ABSOLUTE)
  set(NRNM_CUDA_EXTRA_INCLUDE_DIRS)
  set(NRNM_CUDA_EXTRA_LIB_DIRS)
  file(GLOB _nrnm_nvidia_dirs LIST_DIRECTORIES true "${_nrnm_site}/nvidia/*")
  foreach(_nrnm_dir IN LISTS _nrnm_nvidia_dirs)
    if(IS_DIRECTORY "${_nrnm_dir}/include")
      list(APPEND NRNM_CUDA_EXTRA_INCLUDE_DIRS "${_nrnm_dir}/include")
    endif()
    if(IS_DIRECTORY "${_nrnm_dir}/lib")
      list(APPEND NRNM_CUDA_EXTRA_LIB_DIRS "${_nrnm_dir}/lib")
    endif()
  endforeach()
  set(_nrnm_lib_dirs "${NRNM_CUDA_TOOLKIT_ROOT}/lib64" "${NRNM_CUDA_TOOLKIT_ROOT}/lib"
    "${NRNM_CUDA_TOOLKIT_ROOT}/targets/x86_64-linux/lib" ${NRNM_CUDA_EXTRA_LIB_DIRS})

  # NVRTC: Caffe2's cuda.cmake reads CUDA_nvrtc_LIBRARY (FindCUDAToolkit's
  # cache name); CUDA::nvrtc is not linked by torch's exported targets, so
  # the versioned library is enough.
  set(NRNM_CUDA_MAPPED)
  if(NOT CUDA_nvrtc_LIBRARY)
    _nrnm_find_versioned_lib(_nrnm_nvrtc nvrtc ${_nrnm_lib_dirs})
    if(NOT _nrnm_nvrtc)
      message(FATAL_ERROR "nrnm: the CUDA LibTorch at ${torch_prefix} needs NVRTC (libnvrtc.so), which "
        "neither the toolkit at ${NRNM_CUDA_TOOLKIT_ROOT} nor ${_nrnm_site}/nvidia has. pip install "
        "the NVRTC package of the torch's CUDA version (e.g. 'cuda-toolkit[nvrtc]==13.0.*' or "
        "nvidia-cuda-nvrtc-cu12) next to it, or pass -DCUDA_nvrtc_LIBRARY=<path to libnvrtc.so>.")
    endif()
    set(CUDA_nvrtc_LIBRARY "${_nrnm_nvrtc}" CACHE FILEPATH "NVRTC (found by nrnm)")
  endif()
  list(APPEND NRNM_CUDA_MAPPED "nvrtc=${CUDA_nvrtc_LIBRARY}")

  # The headers ATen/cuda includes (CUDAContextLight.h: cublas_v2.h,
  # cusparse.h, cublasLt.h; cusolver in some headers): from the toolkit or
  # from the pip packages.
  foreach(_nrnm_header cublas_v2.h cusparse.h cublasLt.h)
    set(_nrnm_header_dir "")
    foreach(_nrnm_dir "${NRNM_CUDA_TOOLKIT_ROOT}/include" ${NRNM_CUDA_EXTRA_INCLUDE_DIRS})
      if(NOT _nrnm_header_dir AND EXISTS "${_nrnm_dir}/${_nrnm_header}")
        set(_nrnm_header_dir "${_nrnm_dir}")
      endif()
    endforeach()
    if(NOT _nrnm_header_dir)
      message(FATAL_ERROR "nrnm: ${_nrnm_header} (needed by LibTorch's ATen/cuda headers) is neither in "
        "${NRNM_CUDA_TOOLKIT_ROOT}/include nor in ${_nrnm_site}/nvidia/*/include. Install the toolkit's "
        "math libraries (cuBLAS, cuSPARSE), or pip install them next to torch "
        "('cuda-toolkit[cublas,cusparse]==<torch's CUDA version>').")
    endif()
    list(APPEND NRNM_CUDA_MAPPED "${_nrnm_header}=${_nrnm_header_dir}")
    unset(_nrnm_header_dir)
  endforeach()
  # NCCL (c10d's ProcessGroupNCCL): optional; without it the build has gloo only.
  find_path(NRNM_NCCL_INCLUDE_DIR nccl.h NO_DEFAULT_PATH
    PATHS "${NRNM_CUDA_TOOLKIT_ROOT}/include" ${NRNM_CUDA_EXTRA_INCLUDE_DIRS})
  if(NOT NRNM_NCCL_INCLUDE_DIR)
    find_path(NRNM_NCCL_INCLUDE_DIR nccl.h)
  endif()
  if(NRNM_NCCL_INCLUDE_DIR)
    list(APPEND NRNM_CUDA_MAPPED "nccl.h=${NRNM_NCCL_INCLUDE_DIR}")
  endif()
  message(STATUS "nrnm: CUDA toolkit ${NRNM_CUDA_TOOLKIT_ROOT}; from the pip packages: ${NRNM_CUDA_EXTRA_INCLUDE_DIRS}")
endmacro()
