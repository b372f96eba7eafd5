#!/usr/bin/env bash
# Builds the libFuzzer targets of the C++ readers (fuzz/native/*_fuzzer.cpp)
# into build/fuzz/ with clang++-14 and ASan + UBSan (Debian: clang-14,
# libclang-rt-14-dev). Only the readers are compiled with the sanitizers and
# coverage; the safetensors target links the system's LibTorch for its
# tensors (Debian's libtorch-dev, or TORCH_PREFIX=<dir with include/ lib/>).
set -euo pipefail
cd "$(dirname "$0")/../.."
CXX=${FUZZ_CXX:-clang++-14}
out=build/fuzz
mkdir -p "$out"
if ! command -v "$CXX" >/dev/null; then
  echo "fuzz: $CXX not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi
prefix=${TORCH_PREFIX:-/usr}
torch_inc=(-isystem "$prefix/include/torch/csrc/api/include")
# /usr/include is already on the path; naming it again breaks libstdc++'s #include_next.
[ "$prefix" = /usr ] || torch_inc+=(-isystem "$prefix/include")
torch_lib=$prefix/lib
[ -e "$torch_lib/libtorch_cpu.so" ] || torch_lib=$prefix/lib/x86_64-linux-gnu
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
  -fno-sanitize-recover=undefined -Inative)
launcher=()
command -v ccache >/dev/null && launcher=(ccache)

build() { # target sources... [-- link flags]
  local name=$1
  shift
  local sources=() link=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sources+=("$1"); shift; done
  [ $# -gt 0 ] && shift && link=("$@")
  local newest=0
  for s in "${sources[@]}" native/nrnm/serialize/*.h "$0"; do
    local t
    t=$(stat -c %Y "$s")
    [ "$t" -gt "$newest" ] && newest=$t
  done
  if [ -e "$out/$name" ] && [ "$(stat -c %Y "$out/$name")" -ge "$newest" ]; then
    return
  fi
  echo "fuzz: building $out/$name"
  local objects=()
  for s in "${sources[@]}"; do
    local o=$out/obj/$name/$(basename "${s%.cpp}").o
    mkdir -p "$(dirname "$o")"
    "${launcher[@]}" "$CXX" "${flags[@]}" "${torch_inc[@]}" -c "$s" -o "$o"
    objects+=("$o")
  done
  "$CXX" "${flags[@]}" "${objects[@]}" -o "$out/$name" "${link[@]}"
}

build json_fuzzer fuzz/native/json_fuzzer.cpp native/nrnm/serialize/json.cpp
build safetensors_fuzzer fuzz/native/safetensors_fuzzer.cpp native/nrnm/serialize/safetensors.cpp \
  native/nrnm/serialize/json.cpp -- -L"$torch_lib" -Wl,-rpath,"$torch_lib" -ltorch_cpu -lc10
