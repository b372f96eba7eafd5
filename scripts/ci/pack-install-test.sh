#!/usr/bin/env bash
# Packs nrnm-native with the prebuild for this machine's LibTorch, installs
# the tarball into an empty project with no compiler or CMake on PATH, and
# runs `nrnm-native info` and a short training from the installed package.
# Proves that a matching prebuild installs without compiling anything.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/nrnm-pack-XXXXXX)
trap 'rm -rf "$work"' EXIT

cd "$root"
npm run prebuild
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "pack: $tarball ($(du -h "$work/$tarball" | cut -f1))"
tar -tzf "$work/$tarball" > "$work/contents.txt"   # (a file: grep -q would SIGPIPE tar under pipefail)
grep -q 'package/prebuilds/.*/linux-x64/nrnm-native.napi.node' "$work/contents.txt" || { echo "pack: no prebuild in the tarball"; exit 1; }
if grep -E 'package/(build|node_modules|test)/' "$work/contents.txt"; then echo "pack: build tree or tests in the tarball"; exit 1; fi

# A PATH with node and npm but no compiler, cmake or make.
bin="$work/bin"
mkdir -p "$bin"
for tool in node npm npx sh bash env cat dirname basename uname rm mkdir ls grep sed tr head tail mktemp; do
  p=$(command -v "$tool" || true)
  [ -n "$p" ] && ln -sf "$p" "$bin/$tool"
done
for tool in cc gcc g++ c++ cmake make ninja; do
  if PATH="$bin" command -v "$tool" >/dev/null 2>&1; then echo "pack: $tool still on PATH"; exit 1; fi
done

mkdir -p "$work/app"
cd "$work/app"
PATH="$bin" npm init -y >/dev/null
PATH="$bin" npm install --no-audit --no-fund "$work/$tarball" 2>&1 | tee "$work/install.log"
# npm 11 may not run a dependency's install script at all (allowScripts);
# either way nothing may be compiled, and the loader must find the prebuild.
if grep -q "building from source" "$work/install.log" || [ -e node_modules/nrnm-native/build ]; then
  echo "pack: the install compiled the addon instead of using the prebuild"; exit 1
fi
PATH="$bin" npx nrnm-native info | tee "$work/info.log"
grep -q "prebuild for" "$work/info.log" || { echo "pack: info does not report the prebuild"; exit 1; }
if [ -n "${NRNM_EXPECT_VARIANT:-}" ]; then
  grep -q "prebuild for $NRNM_EXPECT_VARIANT" "$work/info.log" || { echo "pack: info does not report the $NRNM_EXPECT_VARIANT prebuild"; exit 1; }
fi
PATH="$bin" npx nrnm-native train --max-steps 5 --limit 256 --batch-size 32 --out "$work/run" --quiet
test -s "$work/run/last.nrnm" || { echo "pack: the short training wrote no checkpoint"; exit 1; }
echo "pack: installed from the tarball without compiling, info and a short training ran"
