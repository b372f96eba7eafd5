#!/usr/bin/env bash
# System packages nrnm-native needs on Debian 12 / Ubuntu 22.04+:
# LibTorch (CPU), OpenBLAS (LibTorch calls the system BLAS; the default
# reference BLAS is several times slower), a C++ toolchain with CMake,
# GoogleTest for the C++ tests, Gloo's headers for data-parallel training
# (c10d's ProcessGroupGloo), the Fashion-MNIST files (the default dataset),
# and Debian's PyTorch for the same LibTorch (python3-torch: its torchrun
# launches data-parallel runs, and the tests use it as a reference), and
# clang-format (`npm test` checks the C++ style with it).
set -euo pipefail
packages=(libtorch-dev libopenblas0-pthread cmake g++ make libgtest-dev libgloo-dev dataset-fashion-mnist python3-torch clang-format)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "nrnm-native: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "nrnm-native: system packages already installed (${packages[*]})"
fi
