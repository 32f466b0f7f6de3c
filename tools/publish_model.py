"""Prepare a checkpoint for release, as mmdet's tools/model_converters/publish_model.py.

Keeps only ``meta`` and ``state_dict`` (drops optimizer, param scheduler and
message hub state) and names the file after the first 8 hex digits of its
sha256: ``OUT-<hash>.pth``. The input is loaded safely (``torch.load(...,
weights_only=True)`` with ba2m_mm's allow-list; ``--unsafe-load`` opts in for a
trusted file it refuses); one that is not a dict or holds no weights fails with
an error naming it.

Example:
    python tools/publish_model.py work_dirs/demo/deploy.pth work_dirs/demo/ba2m_r18_digits
    # -> work_dirs/demo/ba2m_r18_digits-1a2b3c4d.pth
"""
import argparse
import hashlib
import os
from typing import Sequence

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks

# isort: split
import torch

from ba2m_mm.checkpoint import checkpoint_dict, load_checkpoint_file, state_dict_of
from ba2m_mm.launch import add_unsafe_load_arg, apply_unsafe_load_arg

SAVE_KEYS = ('meta', 'state_dict')


def parse_args():
    parser = argparse.ArgumentParser(description='Strip training state from a checkpoint and '
                                     'add its sha256 prefix to the file name.')
    parser.add_argument('in_file', help='input checkpoint')
    parser.add_argument('out_file', help='output name; written as OUT-<sha256[:8]>.pth')
    parser.add_argument(
        '--save-keys', nargs='+', default=list(SAVE_KEYS), help='top-level checkpoint keys to keep')
    add_unsafe_load_arg(parser)
    args = parser.parse_args()
    apply_unsafe_load_arg(args)
    return args


def publish_model(in_file: str, out_file: str, save_keys: Sequence[str] = SAVE_KEYS) -> str:
    """Write the published checkpoint.

    Args:
        in_file (str): Input checkpoint.
        out_file (str): Output name, with or without ``.pth``.
        save_keys (Sequence[str]): Top-level keys to keep.
            Defaults to ``('meta', 'state_dict')``.

    Returns:
        str: The final path ``<out_file without .pth>-<sha256[:8]>.pth``.
    """
    checkpoint = checkpoint_dict(load_checkpoint_file(in_file, map_location='cpu'), in_file)
    state_dict_of(checkpoint, in_file)  # it holds weights
    if 'state_dict' not in checkpoint:
        checkpoint = dict(state_dict=checkpoint)  # a bare state dict
    for key in list(checkpoint):
        if key not in save_keys:
            print(f'Key `{key}` is removed because it is not in save_keys {list(save_keys)}.')
            checkpoint.pop(key)
    base = out_file[:-4] if out_file.endswith('.pth') else out_file
    tmp_file = base + '.tmp.pth'
    os.makedirs(os.path.dirname(os.path.abspath(tmp_file)), exist_ok=True)
    torch.save(checkpoint, tmp_file)
    sha = hashlib.sha256()
    with open(tmp_file, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            sha.update(chunk)
    final_file = f'{base}-{sha.hexdigest()[:8]}.pth'
    os.replace(tmp_file, final_file)
    return final_file


def main():
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args()
    print(publish_model(args.in_file, args.out_file, args.save_keys))


if __name__ == '__main__':
    main()
