"""Command-line arguments shared by ``tools/train.py`` and ``tools/test.py`` (and
``--unsafe-load``, which the other checkpoint-loading tools take too)."""
import argparse
import os

from mmengine.config import DictAction

from ba2m_mm.checkpoint import UNSAFE_LOAD_ENV, allow_unsafe_load

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_runner_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the arguments that mmdet's ``tools/train.py`` and ``tools/test.py`` share:
    ``--cfg-options``, ``--launcher`` and ``--local-rank``.

    Args:
        parser (argparse.ArgumentParser): The tool's parser; modified in place.

    Returns:
        argparse.ArgumentParser: ``parser``.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair in xxx=yyy format '
        'will be merged into config file. If the value to be overwritten is a list, it should '
        'be like key="[a,b]" or key=a,b It also allows nested list/tuple values, e.g. '
        'key="[(a,b),(c,d)]" Note that the quotation marks are necessary and that no white '
        'space is allowed.')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # torch.distributed.launch with torch >= 2.0 passes --local-rank, older --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_unsafe_load_arg(parser)
    return parser


def add_unsafe_load_arg(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--unsafe-load``: the explicit opt-in for trusted checkpoints that the safe
    loader refuses (see :mod:`ba2m_mm.checkpoint.unsafe_opt_in`).

    Args:
        parser (argparse.ArgumentParser): The tool's parser; modified in place.

    Returns:
        argparse.ArgumentParser: ``parser``.
    """
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='load checkpoints that safe loading (torch.load weights_only=True with an '
        'allow-list) refuses, by unpickling them in full. Unpickling can run code from the '
        f'file: only for files you trust. Same as {UNSAFE_LOAD_ENV}=1.')
    return parser


def apply_unsafe_load_arg(args: argparse.Namespace) -> None:
    """Opt in (logged) when ``--unsafe-load`` was given."""
    if getattr(args, 'unsafe_load', False):
        allow_unsafe_load('--unsafe-load')


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, export ``LOCAL_RANK`` for launchers that only pass ``--local-rank``, and opt
    in to unsafe loading for ``--unsafe-load``.

    Args:
        parser (argparse.ArgumentParser): A parser that went through
            :func:`add_runner_args`.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    apply_unsafe_load_arg(args)
    return args
