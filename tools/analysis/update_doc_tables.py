"""Regenerate the generated parts of README.md and docs/*.md from the committed reports.

Each table sits between ``<!-- table: <report.json> <summary|differences|runs|step_ratios> -->``
(or a list of :mod:`ba2m_mm.compare.doc_claims`: ``<!-- table: README answer -->``, ...) and
``<!-- /table -->``, each figure in prose between ``<!-- value: NAME -->`` and
``<!-- /value -->`` (see :mod:`ba2m_mm.compare.doc_tables`). ``--check`` only lists the parts
that no longer match their sources and exits with 1 if there are any.

Example::

    python tools/analysis/update_doc_tables.py
    python tools/analysis/update_doc_tables.py --check
"""
import argparse
import glob
import os
import os.path as osp
import sys

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks
from ba2m_mm.compare.doc_tables import update_tables

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true', help='only report stale tables')
    args = parser.parse_args(argv)
    files = [osp.join(REPO, 'README.md')] + sorted(glob.glob(osp.join(REPO, 'docs', '*.md')))
    stale = {f: update_tables(f, REPO, args.check) for f in files}
    for f, blocks in stale.items():
        for block in blocks:
            print(f'{"stale" if args.check else "updated"}: {osp.relpath(f, REPO)}: {block}')
    if args.check and any(stale.values()):
        sys.exit(1)
    print('all tables match their reports' if args.check else 'done')


if __name__ == '__main__':
    main()
