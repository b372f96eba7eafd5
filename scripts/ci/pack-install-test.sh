#!/usr/bin/env bash
# Packs nrnm-native with every prebuild in prebuilds/ (the one for this
# machine's LibTorch made first, `npm run prebuild`; the 2.13 CPU and 2.14 cu13
# ones that scripts/ci/libtorch2-check.sh and cuda-check.sh left there, when
# they ran before), and installs the tarball into empty projects with no
# compiler or CMake on PATH:
# - per prebuild whose LibTorch is on this machine (its manifest says where):
#   `npm install` under that LibTorch (install script allowed), then `info`
#   and a short training load that prebuild without compiling;
# - one project with `npm install --ignore-scripts` (what npm 11 does when a
#   dependency's install script is not approved): require('nrnm-native') loads
#   the matching prebuild under each LibTorch; with no match (a prebuild
#   renamed to the wrong C++ ABI or CUDA major) it throws one NRNMError that
#   names what was found, what ships and the two ways out.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/nrnm-pack-XXXXXX)
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)

cd "$root"
npm run prebuild

# Per prebuild: the environment under which the discovery finds its LibTorch
# (from its manifest), or nothing when that LibTorch is not on this machine.
node - > "$work/variants.txt" <<'JS'
const fs = require('node:fs');
const { parseVariant } = require('./scripts/libtorch.js');
for (const dir of fs.readdirSync('prebuilds')) {
  const file = `prebuilds/${dir}/linux-x64/manifest.json`;
  const { variant, libtorch } = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  // A folder of an older layout (torch1.13-cpu, torch2.14-cu130) would ship but never load.
  if (!parseVariant(dir) || variant !== dir) {
    console.error(`pack: prebuilds/${dir} is not a prebuild of this layout (torch<minor>-<cpu|cuN>-<abi>/ with its manifest): remove it`);
    process.exit(1);
  }
  const python = /^python \((.+)\)$/.exec(libtorch.source || '');
  let env = null;
  if (libtorch.source === 'system') env = 'NRNM_NO_PYTHON_TORCH=1';
  else if (python && fs.existsSync(python[1])) env = `NRNM_PYTHON=${python[1]}`;
  else if (!python && fs.existsSync(libtorch.builtFrom)) env = `NRNM_NO_PYTHON_TORCH=1 LIBTORCH=${libtorch.builtFrom}`;
  console.log(`${variant} ${env || '-'}`);
}
JS
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
tar -tzf "$work/$tarball" > "$work/contents.txt"   # (a file: grep -q would SIGPIPE tar under pipefail)
grep -q 'package/prebuilds/.*/linux-x64/nrnm-native.napi.node' "$work/contents.txt" || { echo "pack: no prebuild in the tarball"; exit 1; }
if grep -E 'package/(build|node_modules|test)/' "$work/contents.txt"; then echo "pack: build tree or tests in the tarball"; exit 1; fi
echo "pack: $tarball ($(stat -c %s "$work/$tarball") bytes) with $(grep -c 'nrnm-native.napi.node$' "$work/contents.txt") prebuilds:"
for f in prebuilds/*/linux-x64/nrnm-native.napi.node; do echo "pack:   $f ($(stat -c %s "$f") bytes)"; done

# A PATH with node and npm but no compiler, cmake or make.
bin="$work/bin"
mkdir -p "$bin"
for tool in node npm npx sh bash env cat dirname basename uname rm mkdir mv ls grep sed tr head tail mktemp; do
  p=$(command -v "$tool" || true)
  [ -n "$p" ] && ln -sf "$p" "$bin/$tool"
done
for tool in cc gcc g++ c++ cmake make ninja; do
  if PATH="$bin" command -v "$tool" >/dev/null 2>&1; then echo "pack: $tool still on PATH"; exit 1; fi
done
# Runs "$@" with the LibTorch environment $1 (none of the caller's own).
under() {
  local spec=$1; shift
  # shellcheck disable=SC2086
  env -u LIBTORCH -u Torch_DIR -u NRNM_PYTHON -u NRNM_NO_PYTHON_TORCH -u NRNM_NATIVE_BINARY PATH="$bin" $spec "$@"
}
new_project() {
  mkdir -p "$1" && (cd "$1" && PATH="$bin" npm init -y >/dev/null)
}

tested=0
while read -r variant spec; do
  if [ "$spec" = "-" ]; then echo "pack: $variant: its LibTorch is not on this machine; not installed"; continue; fi
  t=$(date +%s)
  app="$work/app-$variant"
  new_project "$app"
  log="$work/install-$variant.log"
  (cd "$app" && under "$spec" npm install --foreground-scripts --no-audit --no-fund "$work/$tarball") > "$log" 2>&1 \
    || { tail -30 "$log"; exit 1; }
  how="npm install ran the install script"
  if ! grep -q "using the prebuilt addon for $variant " "$log"; then
    # npm 11 skips a dependency's install script until the project approves
    # it: the second way out the loader's error names.
    (cd "$app" && under "$spec" npm install-scripts approve nrnm-native && under "$spec" npm rebuild --foreground-scripts nrnm-native) \
      >> "$log" 2>&1 || { tail -30 "$log"; exit 1; }
    how="npm install skipped the install script; approved (npm install-scripts approve), npm rebuild ran it"
  fi
  if grep -q "building from source" "$log" || [ -e "$app/node_modules/nrnm-native/build" ]; then
    cat "$log"; echo "pack: $variant: the install compiled the addon instead of using the prebuild"; exit 1
  fi
  grep -q "using the prebuilt addon for $variant " "$log" || { cat "$log"; echo "pack: $variant: the install script did not take its prebuild"; exit 1; }
  (cd "$app" && under "$spec" npx nrnm-native info) > "$work/info-$variant.log" 2>&1 || { cat "$work/info-$variant.log"; exit 1; }
  grep -q "prebuild for $variant " "$work/info-$variant.log" || { cat "$work/info-$variant.log"; echo "pack: info does not report the $variant prebuild"; exit 1; }
  (cd "$app" && under "$spec" npx nrnm-native train --max-steps 5 --limit 256 --batch-size 32 --out "$work/run-$variant" --quiet --device cpu)
  test -s "$work/run-$variant/last.nrnm" || { echo "pack: $variant: the short training wrote no checkpoint"; exit 1; }
  echo "pack: $variant: $how: the prebuild, nothing compiled; info and a short training ran, in $(( $(date +%s) - t )) s"
  tested=$((tested + 1))
done < "$work/variants.txt"
[ "$tested" -gt 0 ] || { echo "pack: no prebuild's LibTorch on this machine"; exit 1; }
if [ -n "${NRNM_EXPECT_VARIANT:-}" ] && ! grep -q "^$NRNM_EXPECT_VARIANT [^-]" "$work/variants.txt"; then
  echo "pack: the $NRNM_EXPECT_VARIANT prebuild was not installed and loaded"; exit 1
fi

# Without the install script.
t=$(date +%s)
app="$work/app-noscripts"
new_project "$app"
(cd "$app" && PATH="$bin" npm install --ignore-scripts --no-audit --no-fund "$work/$tarball") > "$work/install-noscripts.log" 2>&1 \
  || { tail -30 "$work/install-noscripts.log"; exit 1; }
cat > "$app/load.js" <<'JS'
// Prints which binary require('nrnm-native') loaded, or its one error.
const nrnm = require('nrnm-native');
try {
  const r = nrnm.runtimeReport();
  console.log(`loaded: ${r.binary.reason}`);
} catch (err) {
  console.log(`error: ${err.name} ${err.code}\n${err.message}`);
}
JS
while read -r variant spec; do
  [ "$spec" = "-" ] && continue
  out=$(cd "$app" && under "$spec" node load.js)
  echo "$out" | grep -q "^loaded: prebuild for $variant " || { echo "$out"; echo "pack: --ignore-scripts: $variant not loaded"; exit 1; }
done < "$work/variants.txt"
echo "pack: --ignore-scripts: each LibTorch loads its own prebuild"

# No match: the installed copy's prebuild renamed to the wrong C++ ABI, then to
# the wrong CUDA major; the loader must explain, not try it.
expect_refusal() { # <variant> <spec> <renamed to> <reason expected>
  local dir="$app/node_modules/nrnm-native/prebuilds"
  mv "$dir/$1" "$dir/$3"
  out=$(cd "$app" && under "$2" node load.js)
  mv "$dir/$3" "$dir/$1"
  for want in "^error: NRNMError ERR_NATIVE_LOAD" "the LibTorch found is $1" "ships prebuilds for .*$3" "$3: $4" \
    'npx nrnm-native build' 'npm install-scripts approve nrnm-native'; do
    echo "$out" | grep -q -- "$want" || { echo "$out"; echo "pack: refusing $3 under the $1 LibTorch: no '$want'"; exit 1; }
  done
  echo "pack: --ignore-scripts: $3 under the $1 LibTorch refused with: $(echo "$out" | grep -o -- "$3: .*" | head -n 1)"
  if [ -z "${shown:-}" ]; then echo "$out" | sed 's/^/pack:   | /'; shown=1; fi  # the whole error, once
}
while read -r variant spec; do
  [ "$spec" = "-" ] && continue
  case "$variant" in
    *-cxx11) expect_refusal "$variant" "$spec" "${variant%-cxx11}-precxx11" "built with the pre-cxx11" ;;
    *-precxx11) expect_refusal "$variant" "$spec" "${variant%-precxx11}-cxx11" "built with the cxx11" ;;
  esac
  case "$variant" in
    *-cpu-*) expect_refusal "$variant" "$spec" "${variant/-cpu-/-cu12-}" "built for CUDA 12, the LibTorch found is CPU only" ;;
    *-cu13-*) expect_refusal "$variant" "$spec" "${variant/-cu13-/-cu12-}" "built for CUDA 12, the LibTorch found is CUDA 13" ;;
  esac
done < "$work/variants.txt"

# The second way out the error names, in that same project: approve the
# install script, npm rebuild runs it, and it takes the prebuild.
read -r variant spec < <(grep -v ' -$' "$work/variants.txt" | head -n 1)
(cd "$app" && under "$spec" npm install-scripts approve nrnm-native && under "$spec" npm rebuild --foreground-scripts nrnm-native) \
  > "$work/approve.log" 2>&1 || { tail -30 "$work/approve.log"; exit 1; }
grep -q "using the prebuilt addon for $variant " "$work/approve.log" || { cat "$work/approve.log"; echo "pack: approve + rebuild did not take the $variant prebuild"; exit 1; }
echo "pack: --ignore-scripts, then npm install-scripts approve nrnm-native and npm rebuild: the $variant prebuild, nothing compiled"
echo "pack: without install scripts in $(( $(date +%s) - t )) s; all in $(( $(date +%s) - t0 )) s"
