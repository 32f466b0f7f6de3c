#!/usr/bin/env bash
# One-command install of the OpenMMLab stack + ba2m_mm into a virtual environment.
#
#   tools/install.sh                 # -> ./.venv
#   VENV=/path/to/env tools/install.sh
#
# Steps (each names itself if it fails):
#   1. venv         create $VENV with $PYTHON (default python3)
#   2. build-tools  setuptools>=77,<81 (mmcv's setup.py imports pkg_resources), ninja, psutil
#   3. torch        torch/torchvision pinned in requirements/torch.txt
#   4. mmcv         mmcv 2.1.0 with ops: reuse a cached wheel keyed by torch version,
#                   Python ABI and CUDA/CPU, or build it from the PyPI sdist with the
#                   -std=c++17 -> c++20 fix that torch >= 2.14 headers need
#   5. stack        mmengine/mmdet/mmpretrain/... (requirements/runtime.txt, tests.txt)
#   6. package      pip install -e . (ba2m_mm itself)
#   7. verify       mmcv ops exist, mmdet/mmpretrain/ba2m_mm import
#
# Idempotent: a stamp in $VENV records the hash of the requirement files; when it matches,
# only step 7 runs. Environment knobs: VENV, PYTHON, MMCV_CACHE (default
# ~/.cache/ba2m_mm/mmcv), FORCE_CUDA=1 (build CUDA ops; needs nvcc), MAX_JOBS (default 2).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
MMCV_VERSION=2.1.0
MMCV_CACHE="${MMCV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ba2m_mm/mmcv}"
export MAX_JOBS="${MAX_JOBS:-2}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

STEP=init
t0=$(date +%s)
trap 'echo "[install] FAILED at step \"$STEP\" (exit $?). See the output above; rerun \"make install\" after fixing it." >&2' ERR
step() { STEP="$1"; echo "[install] ($(( $(date +%s) - t0 ))s) step $1: $2"; }

PY="$VENV/bin/python"
PIP=("$PY" -m pip install --progress-bar off)

stamp_hash() {
    cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/tools/install.sh" | sha256sum | cut -c1-16
}
STAMP="$VENV/.ba2m_mm-installed"

verify() {
    step verify "mmcv ops, mmdet, mmpretrain, ba2m_mm"
    "$PY" - <<'EOF'
import importlib.util, sys
import mmcv
if importlib.util.find_spec('mmcv._ext') is None:
    sys.exit(f'mmcv {mmcv.__version__} has no compiled ops (mmcv._ext missing): '
             'it was built without MMCV_WITH_OPS=1 or in an isolated build')
from mmcv.ops import nms, RoIAlign  # noqa: F401
import mmdet.models, mmpretrain.models, ba2m_mm  # noqa: F401,E401
import torch
print(f'[install] ok: torch {torch.__version__}, mmcv {mmcv.__version__} (ops), '
      f'mmdet {mmdet.__version__}, mmpretrain {mmpretrain.__version__}, '
      f'ba2m_mm {ba2m_mm.__version__}')
EOF
}

if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$(stamp_hash)" ]]; then
    echo "[install] $VENV is up to date (stamp $(cat "$STAMP")); checking it"
    verify
    exit 0
fi

step venv "$VENV with $($PYTHON --version 2>&1)"
if [[ ! -x "$PY" ]]; then
    "$PYTHON" -m venv "$VENV"
fi

step build-tools "pip, setuptools<81, wheel, ninja, psutil"
"${PIP[@]}" -q -U pip
"${PIP[@]}" -q -r "$ROOT/requirements/build.txt"

step torch "$(grep -v '^#' "$ROOT/requirements/torch.txt" | xargs)"
"${PIP[@]}" -q -r "$ROOT/requirements/torch.txt"

step mmcv "mmcv $MMCV_VERSION with ops"
read -r TORCH_VER PY_ABI CUDA_TAG TORCH_GE_214 < <("$PY" - <<'EOF'
import os, sys, torch
ver = torch.__version__.split('+')[0]
major, minor = (int(x) for x in ver.split('.')[:2])
cuda = os.environ.get('FORCE_CUDA') == '1' or torch.cuda.is_available()
tag = f'cu{torch.version.cuda.replace(".", "")}' if cuda and torch.version.cuda else 'cpu'
print(ver, f'cp{sys.version_info.major}{sys.version_info.minor}', tag, int((major, minor) >= (2, 14)))
EOF
)
if [[ "$CUDA_TAG" != cpu ]]; then export FORCE_CUDA=1; fi
CACHE_DIR="$MMCV_CACHE/torch$TORCH_VER-$PY_ABI-$CUDA_TAG"
have_mmcv=$("$PY" -c "import importlib.util as u, mmcv; print(int(mmcv.__version__ == '$MMCV_VERSION' and u.find_spec('mmcv._ext') is not None))" 2>/dev/null || echo 0)
if [[ "$have_mmcv" == 1 && -n "$(ls "$CACHE_DIR"/mmcv-*.whl 2>/dev/null)" ]]; then
    echo "[install] mmcv $MMCV_VERSION with ops already installed"
else
    if ! ls "$CACHE_DIR"/mmcv-*.whl >/dev/null 2>&1; then
        echo "[install] no cached wheel in $CACHE_DIR: building mmcv $MMCV_VERSION from source" \
             "($CUDA_TAG, MAX_JOBS=$MAX_JOBS; about 11 min on 2 cores for CPU ops)"
        build=$(mktemp -d)
        "$PY" -m pip download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$build"
        tar -xzf "$build"/mmcv-"$MMCV_VERSION".tar.gz -C "$build"
        src="$build/mmcv-$MMCV_VERSION"
        # No debug info: -g0 after the -g of Python's CFLAGS (in mmcv's cxx args, which
        # torch's ninja build puts last). Same code (-O3, -DNDEBUG kept), about a third
        # less compile time, an _ext of a few MB instead of 82. Not CFLAGS=-g0: setuptools
        # takes CFLAGS *instead of* Python's, which would drop -O3 and -DNDEBUG.
        n=$(grep -cE "extra_compile_args\['cxx'\] = \['-std=c\+\+1[47]'\]" "$src/setup.py" || true)
        [[ "$n" -ge 1 ]] || { echo "[install] expected the cxx args in mmcv setup.py, found none" >&2; false; }
        sed -i -E "s/(extra_compile_args\['cxx'\] = \['-std=c\+\+1[47]')\]/\1, '-g0']/" "$src/setup.py"
        echo "[install] added -g0 to $n cxx argument list(s) in mmcv setup.py"
        if [[ "$TORCH_GE_214" == 1 ]]; then
            # torch >= 2.14 headers refuse C++17; mmcv 2.1.0 hard-codes it (cxx and nvcc flags).
            n=$(grep -c -- '-std=c++17' "$src/setup.py" || true)
            [[ "$n" -ge 1 ]] || { echo "[install] expected -std=c++17 in mmcv setup.py, found none" >&2; false; }
            sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
            echo "[install] patched $n occurrence(s) of -std=c++17 -> -std=c++20 in mmcv setup.py"
        fi
        mkdir -p "$CACHE_DIR"
        # --no-build-isolation: torch must be importable at build time, otherwise mmcv
        # silently skips its ops.
        (cd "$src" && MMCV_WITH_OPS=1 "$PY" -m pip wheel --no-build-isolation --no-deps \
            -w "$build/wheel" . 2>&1 | tail -n 5)
        mv "$build"/wheel/mmcv-*.whl "$CACHE_DIR"/
        rm -rf "$build"
    fi
    echo "[install] installing $(ls "$CACHE_DIR"/mmcv-*.whl)"
    "${PIP[@]}" -q --force-reinstall --no-deps "$CACHE_DIR"/mmcv-*.whl
fi

step stack "mmengine, mmdet, mmpretrain, pycocotools, test tools"
# mmcv's own dependencies come in here too (it was installed with --no-deps).
"${PIP[@]}" -q -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
    addict packaging Pillow pyyaml opencv-python "$("$PY" -c 'import torch; print("torch==" + torch.__version__.split("+")[0])')"

step package "pip install -e $ROOT"
"${PIP[@]}" -q --no-deps --no-build-isolation -e "$ROOT"

verify
stamp_hash > "$STAMP"
echo "[install] done in $(( $(date +%s) - t0 ))s; activate with: source $VENV/bin/activate"
