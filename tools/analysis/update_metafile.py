"""Keep ``configs/metafile.yml``, the model index of ``configs/``, in step with the configs.

The metafile is what ``model-index.yml`` imports; the package ships it as
``ba2m_mm/.mim/configs/ba2m/metafile.yml`` (mim and mmengine read it there). Every config
in ``configs/`` has one entry (``tests/test_model_index.py`` checks it).

Fields of an entry and where they come from:

- written once by ``--add`` (edit by hand afterwards): ``Name``, ``Config``, ``Training
  Data``, ``Baseline Config`` (the upstream config the model derives from), and, by hand
  only, ``Paper Results`` (the paper's numbers, never ours);
- rewritten from the config on every run: ``Architecture`` (model, backbone and neck
  types), ``Epochs``/``Iterations``, ``Batch Size``
  (``auto_scale_lr.base_batch_size``, the total batch the learning rate is set for);
- measured on every run unless ``--no-measure``, with ``ba2m_mm.analysis.flops`` (what
  ``tools/analysis/get_flops.py`` runs; mmengine.analysis; 1 FLOP = 1 multiply-add):
  ``Parameters``, ``BA2M Parameters``, ``FLOPs`` (deployed: eval mode, where BA2M is the identity),
  ``BA2M Training FLOPs`` (the BA2M share of a train-mode forward, per image, batch 2) and
  ``FLOPs Input Shape`` (kept once set, so it can be edited by hand; at first get_flops'
  default, 800x1280 for detectors and 224x224 for classifiers, and 32x32 for CIFAR);
- ``Results``: only what we measured, rewritten on every run from the committed reports
  that ``ba2m_mm.compare.doc_claims.ZOO`` names (the figures of the README's model zoo);
  every other entry has none (``Results: []``, ``Results Note`` says so).

Examples::

    # after a change to the model: re-measure every entry (about 50 s a detector)
    python tools/analysis/update_metafile.py
    # only some entries
    python tools/analysis/update_metafile.py --configs mask_rcnn_r50_ba2m_2x_coco.py
    # a new config: add its entry, measure it
    python tools/analysis/update_metafile.py --add configs/resnext50_ba2m_8xb32_in1k.py \\
        --baseline mmpretrain::resnext/resnext50-32x4d_8xb32_in1k.py
    # which configs have no entry, which entries no config (exit status 1 if any)
    python tools/analysis/update_metafile.py --check
    # only the Results, from the committed reports (after a new report or ZOO entry)
    python tools/analysis/update_metafile.py --no-measure
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import List, Optional

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks
from ba2m_mm.analysis.model_index import (METAFILE, add_entries, all_configs, apply_report_results,
                                          check, config_name, dump_metafile, load_metafile,
                                          new_metafile, update_entry)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Update configs/metafile.yml (model index of configs/) from the configs.',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--configs',
        nargs='+',
        help='update only these entries (config file names or paths). Default: all')
    parser.add_argument(
        '--add',
        nargs='+',
        metavar='CONFIG',
        help='add an entry for these configs (paths or names in configs/), then update them')
    parser.add_argument(
        '--baseline',
        nargs='+',
        help='with --add: the upstream config each added config derives from, e.g. '
        'mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py (one per --add config)')
    parser.add_argument(
        '--training-data',
        nargs='+',
        help='with --add: Training Data of each added config. Default: from its dataset type')
    parser.add_argument(
        '--no-measure',
        action='store_true',
        help='do not measure parameters/FLOPs (keep the values in the metafile)')
    parser.add_argument(
        '--check',
        action='store_true',
        help='only report configs without an entry and entries without a config')
    parser.add_argument('--metafile', default=METAFILE, help='Default: configs/metafile.yml')
    args = parser.parse_args(argv)
    if args.add:
        if not args.baseline or len(args.baseline) != len(args.add):
            parser.error(f'--add needs one --baseline per config: got {len(args.add)} '
                         f'config(s) and --baseline {args.baseline}')
        if args.training_data and len(args.training_data) != len(args.add):
            parser.error(f'--training-data needs one value per --add config, got '
                         f'{args.training_data}')
    elif args.baseline or args.training_data:
        parser.error('--baseline and --training-data go with --add')
    return args


def main(argv=None) -> int:
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args(argv)
    meta = load_metafile(args.metafile) if osp.exists(args.metafile) else new_metafile()
    if args.check:
        problems = check(meta)
        for problem in problems:
            print(problem)
        print(f'{len(meta["Models"])} entries, {len(all_configs())} configs, '
              f'{len(problems)} problem(s)')
        return 1 if problems else 0

    entries = {m['Name']: m for m in meta['Models']}
    todo: Optional[List[str]] = None
    if args.configs:
        todo = [config_name(c) for c in args.configs]
        missing = [n for n in todo if n not in entries]
        if missing:
            raise KeyError(f'no entry for {missing}: add them with --add')
    if args.add:
        added = add_entries(entries, args.add, args.baseline, args.training_data, args.metafile)
        todo = (todo or []) + added
    if todo is None:
        todo = list(entries)
    apply_report_results(entries)

    start = time.time()
    for i, name in enumerate(todo, 1):
        t = time.time()
        entries[name] = update_entry(entries[name], do_measure=not args.no_measure)
        md = entries[name]['Metadata']
        measured = (f'{md["Parameters"] / 1e6:.2f} M params, {md["FLOPs"] / 1e9:.2f} GFLOPs'
                    if 'Parameters' in md else 'not measured')
        print(f'[{i}/{len(todo)}] {name}: {measured} ({time.time() - t:.0f} s)', flush=True)
    meta['Models'] = [entries[n] for n in sorted(entries)]
    dump_metafile(meta, args.metafile)
    problems = check(meta)
    print(f'wrote {args.metafile}: {len(meta["Models"])} entries, {len(todo)} updated in '
          f'{time.time() - start:.0f} s; {len(problems)} problem(s)')
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
