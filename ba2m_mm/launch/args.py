"""Command-line arguments shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os

from mmengine.config import DictAction

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
    return parser


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` for launchers that only pass ``--local-rank``.

    Args:
        parser (argparse.ArgumentParser): A parser that went through
            :func:`add_runner_args`.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args
