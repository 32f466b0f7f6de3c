#!/usr/bin/env bash
# BA2M vs plain ResNet-50 on a CUDA machine, in one command (issue 13):
#   1. profile, fp32 and bf16 AMP: kernel launches, aten ops and GPU kernel time per step of the
#      detection backbone (R-50, BA2M after stages 2-4, 2x3x800x1344) and of the mmpretrain
#      classifier train step (batch 32), plain and BA2M side by side;
#   2. timing, fp32 and bf16 AMP: train / inference step ratios at the per-GPU batches
#      (classification 32, detection 2), CUDA events.
# It runs tools/analysis/benchmark.py four times (see its docstring for what is measured).
#
# Usage, from anywhere:
#   bash tools/analysis/gpu_benchmark.sh
# With ba2m_mm installed (tools/install.sh; FORCE_CUDA=1 builds mmcv's CUDA ops, and then the
# full Faster R-CNN is timed too) nothing else is needed. On a bare CUDA machine (python3 with
# torch + CUDA, no OpenMMLab, no package index; ../shared/gpu/README.md), first build the wheel
# kit on a machine with the project's venv:
#   ../shared/gpu/fetch_wheels.sh .gpu/whl      # mmengine, mmpretrain, mmcv-lite, ... (~1 min)
# and send .gpu/ with the working tree (never commit it; ../shared/gpu/README.md excludes it
# with "echo /.gpu/ >> .git/info/exclude", and then it has to be named when the tree is sent).
# Here the kit is installed with pip --no-index into $SITE and put on PYTHONPATH.
# Without mmcv's CUDA ops the benchmark leaves the full detector out and says so.
#
# Environment (all optional):
#   PY      python to use (default: .venv/bin/python if it exists, else python3)
#   WHEELS  wheel kit folder (default .gpu/whl), installed only if mmengine/mmpretrain are missing
#   SITE    where the kit is installed (default /tmp/site)
#   OUT     results folder (default work_dirs/gpu_benchmark; on the lent GPU machines $OUT is
#           the folder that comes back). Inside: profile_fp32/ profile_bf16/ (profile.md,
#           profile.json, operator tables), fp32/ bf16/ (benchmark.json, benchmark.png), and
#           gpu_benchmark.log
#   DEVICE  cuda (default) or cpu: DEVICE=cpu with ARGS="--shape 64 64 --rounds 1 --steps 1
#           --warmup 0" is a quick dry run of this script without a GPU
#   ARGS    extra arguments for every benchmark.py call
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
if [[ -z "${PY:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
WHEELS=${WHEELS:-.gpu/whl}
SITE=${SITE:-/tmp/site}
OUT=${OUT:-work_dirs/gpu_benchmark}
DEVICE=${DEVICE:-cuda}
read -r -a EXTRA <<< "${ARGS:-}"
mkdir -p "$OUT"
LOG=$OUT/gpu_benchmark.log
exec > >(tee -a "$LOG") 2>&1

if ! "$PY" -c 'import mmengine, mmpretrain, mmcv' 2>/dev/null; then
  shopt -s nullglob
  kit=("$WHEELS"/*.whl)
  if [[ ${#kit[@]} -eq 0 ]]; then
    echo "[gpu_benchmark] $PY lacks mmengine/mmpretrain/mmcv and there is no wheel kit in" \
      "$WHEELS: run ../shared/gpu/fetch_wheels.sh $WHEELS on the machine with the venv first"
    exit 2
  fi
  echo "[gpu_benchmark] installing ${#kit[@]} wheels from $WHEELS into $SITE"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" \
    "${kit[@]}" || exit 2
  export PYTHONPATH=$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
"$PY" -c 'import torch; print("[gpu_benchmark] torch", torch.__version__, "cuda",
torch.version.cuda, "available", torch.cuda.is_available(),
torch.cuda.get_device_name() if torch.cuda.is_available() else "")'

failed=()
run() {  # name, benchmark.py arguments; a failure is reported, the other runs still go
  local name=$1
  shift
  echo "[gpu_benchmark] === $name: benchmark.py $* ==="
  local start=$SECONDS
  if "$PY" tools/analysis/benchmark.py --device "$DEVICE" "$@" "${EXTRA[@]}" \
    --out-dir "$OUT/$name"; then
    echo "[gpu_benchmark] $name done in $((SECONDS - start)) s"
  else
    echo "[gpu_benchmark] $name FAILED (exit $?) after $((SECONDS - start)) s"
    failed+=("$name")
  fi
}
run profile_fp32 --profile
run profile_bf16 --profile --amp
run fp32
run bf16 --amp

echo "[gpu_benchmark] profile tables:"
for name in profile_fp32 profile_bf16; do
  [[ -f "$OUT/$name/profile.md" ]] && { echo "--- $name"; cat "$OUT/$name/profile.md"; }
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "[gpu_benchmark] failed: ${failed[*]} (see $LOG)"
  exit 1
fi
echo "[gpu_benchmark] all done; results in $OUT"
