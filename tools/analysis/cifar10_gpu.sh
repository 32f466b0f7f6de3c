#!/usr/bin/env bash
# The CIFAR-10 comparison at the full recipe on one GPU: BA2M ResNet-18 vs its plain twin
# (configs/resnet18_ba2m_1xb128_cifar10.py / resnet18_1xb128_cifar10.py: 200 epochs on the
# 45,000 training images, N = 128, evaluated once on the 10,000 test images), one run per
# seed, then mean ± std, median and the paired difference with its 95% interval
# (work_dirs/cifar10_full/comparison.md). About 200 x 352 steps per run.
#
#   tools/analysis/cifar10_gpu.sh            # seeds 0 1 2
#   tools/analysis/cifar10_gpu.sh 0 1 2 3 4  # the paper's 5
#
# Needs the CIFAR-10 JPEG archive at ../shared/data/ (extracted into data/cifar10 on the
# first run) or data/cifar10 already in place. PYTHON overrides the interpreter (default:
# .venv/bin/python when present).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
SEEDS=("$@")
[[ ${#SEEDS[@]} -gt 0 ]] || SEEDS=(0 1 2)
"$PYTHON" -c "import torch; print('[cifar10_gpu] cuda:', torch.cuda.is_available())"
exec "$PYTHON" tools/compare.py --preset cifar10-full --seeds "${SEEDS[@]}" --evaluate test \
    --out-dir work_dirs/cifar10_full --cfg-options train_dataloader.num_workers=8 \
    val_dataloader.num_workers=8 test_dataloader.num_workers=8
