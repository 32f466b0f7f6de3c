"""Train a detector (mmdet) or a classifier (mmpretrain) with BA2M.

Same arguments as mmdet 3.3's ``tools/train.py``. Differences, all in the
launch path (installed packages are not modified):

- ``ba2m_mm`` is imported here, so configs work without ``custom_imports``;
  the modules of the config's ``default_scope`` (mmdet or mmpretrain) are
  registered.
- ``--launcher pytorch|slurm|mpi`` also works on a machine without CUDA
  (gloo process group, CPU DDP; see ``ba2m_mm/launch/cpu.py``).
- ``--amp`` without CUDA uses bfloat16 autocast on CPU.
- Checkpoints are written atomically (``AtomicCheckpointHook``), so a run
  killed at any instant resumes with ``--resume``.
- A missing local pretrained file fails at once, naming the option.
- Every checkpoint (``--resume``, ``load_from``, pretrained weights) is loaded safely
  (``torch.load(..., weights_only=True)`` with an allow-list, ``ba2m_mm/checkpoint/``);
  ``--unsafe-load`` is the opt-in for a trusted file it refuses. A ``--resume`` checkpoint
  that does not fit the config fails, naming the file.

Example::

    python tools/train.py configs/mask_rcnn_r50_ba2m_2x_coco.py --work-dir work_dirs/x
    bash tools/dist_train.sh configs/mask_rcnn_r50_ba2m_2x_coco.py 8 --resume
"""
import argparse
import os

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks
from ba2m_mm.checkpoint import (check_pretrained_paths, check_resumed_checkpoint, set_resume,
                                use_atomic_checkpoints)
from ba2m_mm.launch import (add_runner_args, auto_scale_lr, build_runner, enable_amp, load_config,
                            parse_runner_args, register_scope_modules, setup_cpu_distributed,
                            teardown_cpu_distributed)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model with BA2M')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (bfloat16 autocast on CPU)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true', help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not specify, try to auto '
        'resume from the latest checkpoint in the work directory.')
    return parse_runner_args(add_runner_args(parser))


def main():
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args()
    cfg = load_config(args)
    register_scope_modules(cfg)
    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        auto_scale_lr(cfg)
    set_resume(cfg, args.resume)
    check_pretrained_paths(cfg)
    check_resumed_checkpoint(cfg)
    use_atomic_checkpoints(cfg)
    setup_cpu_distributed(cfg, args.launcher)
    build_runner(cfg).train()
    teardown_cpu_distributed()


if __name__ == '__main__':
    main()
