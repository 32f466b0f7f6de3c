"""Export a BA2M detector for deployment without ba2m_mm.

BA2M is the identity at inference (paper Section III-D), so a trained
``BA2MResNet`` (``BA2MResNeXt``) detector predicts exactly what the same network
with plain mmdet ``ResNet`` (``ResNeXt``) predicts. This tool writes

- ``OUT``: the checkpoint without BA2M parameters/buffers (keys
  ``backbone.ba2m{i}.*`` and ``backbone.layer{i}.{j}.ba2m.*``), with only
  ``meta`` and ``state_dict`` kept (optimizer state refers to BA2M parameters);
- ``OUT`` with ``.py``: the config with ``type='ResNet'`` (``'ResNeXt'``); the ``ba2m_*``
  arguments, ``custom_imports`` of ba2m_mm, BA2M hooks and the source run's ``work_dir``
  removed (a run of it writes to ``./work_dirs/<config name>``, not into the BA2M run),

and (unless ``--no-verify``) builds the plain model from the written config and
loads the stripped checkpoint with ``strict=True`` (on failure both files are
removed). The checkpoint is loaded safely (``torch.load(..., weights_only=True)``
with ba2m_mm's allow-list; ``--unsafe-load`` opts in for a trusted file it
refuses); a file that is not a checkpoint, holds no state dict or does not fit
the config fails with an error naming it. The logic is in :mod:`ba2m_mm.deploy`.

Example:
    python tools/deploy/strip_ba2m.py work_dirs/demo/epoch_8.pth \
        work_dirs/demo/deploy.pth --config configs/demo_mask_rcnn_r18_ba2m_digits.py
"""
import argparse
import os

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks
from ba2m_mm.deploy import strip_ba2m, strip_config, strip_state_dict
from ba2m_mm.launch import add_unsafe_load_arg, apply_unsafe_load_arg

# Re-exported: tests and scripts that imported them from this tool.
__all__ = ['strip_ba2m', 'strip_config', 'strip_state_dict', 'main']


def parse_args():
    parser = argparse.ArgumentParser(
        description='Strip BA2M from a checkpoint and config (zero-cost deployment with '
        'plain mmdet ResNet).')
    parser.add_argument('checkpoint', help='trained BA2M checkpoint (.pth)')
    parser.add_argument('out', help='output checkpoint; the config goes next to it as .py')
    parser.add_argument(
        '--config',
        help='training config; defaults to the config stored in '
        "the checkpoint's meta (mmengine Runner checkpoints)")
    parser.add_argument(
        '--no-verify',
        action='store_true',
        help='skip building the plain model and the strict load check')
    add_unsafe_load_arg(parser)
    args = parser.parse_args()
    apply_unsafe_load_arg(args)
    return args


def main():
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args()
    result = strip_ba2m(args.checkpoint, args.out, args.config, verify=not args.no_verify)
    print(f'removed {len(result["removed_keys"])} BA2M entries '
          f'({result["removed_params"]:,} values)')
    print(f'checkpoint: {result["checkpoint"]}\nconfig:     {result["config"]}')
    if not args.no_verify:
        print('verified: plain mmdet model built from the config loads it with strict=True')


if __name__ == '__main__':
    main()
