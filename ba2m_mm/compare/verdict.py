"""The CIFAR-10 verdict in one command, within a wall-clock budget (``docs/gpu_verdict.md``).

:func:`plan_runs` turns measured step times into epochs x seeds; :func:`run_verdict` runs
the twins seed by seed (all four arms of a seed before the next seed, so a seed is
complete or left out), never past the budget; :func:`verdict_report` writes the report of
``tools/compare.py`` (:mod:`.report`: mean ± std, median, paired differences with 95%
intervals) with the plan, the budget's accounting and what did not fit.
"""
import json
import math
import os
import os.path as osp
import time
from typing import Dict, List

import torch
from mmengine.config import Config

from .report import format_report
from .statistics import paired_difference, summarize
from .verdict_data import DeviceSplit
from .verdict_train import ARMS, LABELS, REFERENCE, Run, train

METRIC = 'accuracy/top1'
FULL_RECIPE_EPOCHS = 200  # configs/resnet18_1xb128_cifar10.py (mmpretrain's CIFAR recipe)
PLAN_RULE = ('the most epochs (up to --max-epochs) at which --min-seeds seeds fit, then as '
             'many seeds as fit at those epochs (up to --max-seeds); where one epoch does not fit '
             '--min-seeds seeds, fewer seeds at one epoch; where not even that fits, part of an '
             'epoch (2 seeds, else 1).')
SAFETY = 1.15  # planned step time x this: launch jitter, the last partial batch, syncs


def seed_cost(times: Dict, steps: int, eval_batches: int, safety: float = SAFETY) -> float:
    """Seconds one seed of every arm takes: build, ``steps`` steps, evaluation."""
    return sum(t['build'] + safety * steps * t['step'] + eval_batches * t['eval_batch']
               for t in times.values())


def plan_runs(available: float, times: Dict, steps_per_epoch: int, eval_batches: int,
              min_seeds: int, max_seeds: int, max_epochs: int) -> Dict:
    """Epochs and seeds that fit ``available`` seconds, by :data:`PLAN_RULE`.

    Returns:
        dict: ``epochs``, ``steps``, ``seeds`` (a count; 0: nothing fits),
        ``planned_s`` (estimated seconds), ``seed_s`` and ``not_fit`` (sentences).
    """

    def cost(epochs, seeds):
        return seeds * seed_cost(times, epochs * steps_per_epoch, eval_batches)

    not_fit = []
    epochs = max((e for e in range(1, max_epochs + 1) if cost(e, min_seeds) <= available),
                 default=0)
    if epochs:
        seeds = min(max_seeds, int(available // cost(epochs, 1)))
        steps = epochs * steps_per_epoch
    else:
        seeds = next((s for s in range(min_seeds - 1, 0, -1) if cost(1, s) <= available), 0)
        steps = steps_per_epoch if seeds else 0
        if not seeds:  # part of an epoch, 2 seeds (1 if 2 cannot take a step)
            for seeds in (2, 1):
                fixed = seed_cost(times, 0, eval_batches)
                per_step = seed_cost(times, 1, eval_batches) - fixed
                steps = min(steps_per_epoch - 1, int((available / seeds - fixed) // per_step))
                if steps >= 1:
                    break
            else:
                seeds, steps = 0, 0
        not_fit.append(f'{min_seeds} seeds x 1 epoch: needs {cost(1, min_seeds):.0f} s, '
                       f'{available:.0f} s were left for training')
        epochs = steps / steps_per_epoch
    if seeds and epochs == int(epochs) and epochs < max_epochs:
        more = int(epochs) + 1
        not_fit.append(f'{more} epochs x {max(seeds, min_seeds)} seeds: needs '
                       f'{cost(more, max(seeds, min_seeds)):.0f} s, {available:.0f} s were left')
    if seeds and seeds < max_seeds and epochs >= 1:
        not_fit.append(f'{seeds + 1} seeds x {epochs:g} epochs: needs '
                       f'{cost(epochs, seeds + 1):.0f} s, {available:.0f} s were left')
    not_fit.append(f'the full recipe ({FULL_RECIPE_EPOCHS} epochs) x {min_seeds} seeds: needs '
                   f'{cost(FULL_RECIPE_EPOCHS, min_seeds):.0f} s')
    seed_s = seed_cost(times, steps, eval_batches) if steps else 0.0
    return dict(
        epochs=epochs,
        steps=steps,
        seeds=seeds,
        planned_s=seeds * seed_s,
        seed_s=seed_s,
        not_fit=not_fit,
        rule=PLAN_RULE)


def plan_verdict(budget: float, start: float, timing: Dict, train_images: int, eval_images: int,
                 batch: int, first_seed: int, min_seeds: int, max_seeds: int,
                 max_epochs: int) -> Dict:
    """:func:`plan_runs` for the time left of ``budget`` (counted from ``start``) less a
    reserve for the report; adds ``steps_per_epoch``, ``reserve_s``, ``elapsed_s`` (spent
    before the runs) and the ``seed_list``."""
    reserve = max(2.0, 0.02 * budget)  # the last evaluation's sync and the report
    steps_per_epoch = math.ceil(train_images / batch)
    elapsed = time.perf_counter() - start
    plan = plan_runs(budget - elapsed - reserve, timing, steps_per_epoch,
                     math.ceil(eval_images / 1000), min_seeds, max_seeds, max_epochs)
    plan.update(
        steps_per_epoch=steps_per_epoch,
        reserve_s=reserve,
        elapsed_s=elapsed,
        seed_list=list(range(first_seed, first_seed + plan['seeds'])))
    print(
        f'[verdict] plan: {plan["seeds"]} seeds x {plan["epochs"]:g} epochs '
        f'({plan["planned_s"]:.0f} s of {budget - elapsed:.0f} s left)',
        flush=True)
    return plan


def run_verdict(configs: Dict[str, Config],
                data: Dict[str, DeviceSplit],
                evaluate: str,
                plan: Dict,
                batch: int,
                device: torch.device,
                start: float,
                budget: float,
                eval_batch: int = 1000) -> Dict:
    """Train and evaluate every arm of every seed of ``plan`` (:func:`plan_verdict`), in
    order, within the budget.

    A seed starts only if its estimated time (the larger of the plan's and the slowest
    finished seed's) fits before ``start + budget - plan['reserve_s']``; a run stops at that
    deadline, and a seed with a stopped run is left out of the statistics (listed).

    Returns:
        dict: ``results`` (one per finished run, the comparison tool's fields),
        ``fingerprints`` ({seed: {arm: sha1 of the shared layers' initial weights}}),
        ``incomplete`` and ``skipped`` (sentences).
    """
    deadline = start + budget - plan['reserve_s']
    results, fingerprints, incomplete, skipped = [], {}, [], []
    seed_s = plan['seed_s']
    plain_keys = None
    for seed in plan['seed_list']:
        now = time.perf_counter()
        if now + seed_s > deadline:
            skipped.append(f'seed {seed}: needs ~{seed_s:.0f} s, {deadline - now:.0f} s left')
            continue
        seed_start, runs, trace = now, [], None
        for name in ARMS:
            run = Run(configs[name], seed, device, plan['steps'], plain_keys)
            plain_keys = plain_keys or run.shared_keys
            fingerprints.setdefault(str(seed), {})[name] = run.fingerprint
            t0 = time.perf_counter()
            done = train(run, data['train'], batch, plan['steps'], seed, deadline,
                         trace if name == 'random' else None)
            train_time = time.perf_counter() - t0
            if done < plan['steps']:
                incomplete.append(f'seed {seed}: {name} stopped at step {done} of '
                                  f'{plan["steps"]} (budget)')
                break
            t0 = time.perf_counter()
            loss = run.final_loss()
            accuracy = run.evaluate(data[evaluate], eval_batch) if math.isfinite(loss) else \
                float('nan')
            trace = run.spread_trace() if name == 'ba2m' else trace
            runs.append(
                dict(
                    arm=name,
                    label=LABELS[name],
                    group=None,
                    seed=seed,
                    metrics={
                        METRIC: accuracy,
                        'loss': loss
                    },
                    train_time=train_time,
                    eval_time=time.perf_counter() - t0,
                    iters=done,
                    step_time=train_time / done,
                    build_time=run.build_time,
                    weight_spread=run.weight_spread()))
            print(
                f'[verdict] seed {seed} {name}: top-1 {accuracy:.2f}, {done} steps in '
                f'{train_time:.1f} s',
                flush=True)
            del run
        if len(runs) == len(ARMS):
            results += runs
            seed_s = max(seed_s, time.perf_counter() - seed_start)
    return dict(results=results, fingerprints=fingerprints, incomplete=incomplete, skipped=skipped)


def _summary(results: List[Dict]) -> List[Dict]:
    """Per arm, the comparison tool's summary row (:meth:`Comparison.summary`)."""
    from .experiment import SPREAD_KEYS
    ref_step = summarize([r['step_time'] for r in results if r['arm'] == REFERENCE])['mean']
    rows = []
    for arm in ARMS:
        runs = [r for r in results if r['arm'] == arm]
        if not runs:
            continue
        step = summarize([r['step_time'] for r in runs])
        stages = sorted({s for r in runs for s in r['weight_spread']})
        rows.append(
            dict(
                group=None,
                arm=arm,
                label=LABELS[arm],
                seeds=[r['seed'] for r in runs],
                metrics={m: summarize([r['metrics'][m] for r in runs])
                         for m in (METRIC, 'loss')},
                step_time=step,
                step_ratio=step['mean'] / ref_step if ref_step else None,
                train_time=summarize([r['train_time'] for r in runs]),
                weight_spread={
                    s: {
                        k: summarize([r['weight_spread'][s][k] for r in runs])
                        for k in SPREAD_KEYS
                    }
                    for s in stages
                }))
    return rows


def _differences(results: List[Dict]) -> List[Dict]:
    """Every arm against plain, and BA2M against the random control, paired by seed."""

    def per_seed(arm):
        return {r['seed']: r['metrics'][METRIC] for r in results if r['arm'] == arm}

    pairs = [(a, REFERENCE) for a in ARMS if a != REFERENCE] + [('ba2m', 'random')]
    return [
        dict(
            group=None,
            arm=a,
            label=LABELS[a],
            reference=LABELS[b],
            **paired_difference(per_seed(a), per_seed(b))) for a, b in pairs
        if per_seed(a) and per_seed(b)
    ]


def _sections(verdict: Dict) -> List[str]:
    """Markdown of the plan, the budget, what did not fit and the device check."""
    plan, budget, check = verdict['plan'], verdict['budget'], verdict['device_check']
    lines = [
        '## Plan and budget', '',
        f'{plan["seeds"]} seeds x {plan["epochs"]:g} epochs ({plan["steps"]} steps of '
        f'{verdict["batch"]} images, {plan["steps_per_epoch"]} an epoch), seeds '
        f'{verdict["seeds_run"]}. Rule: {plan["rule"]}', '',
        '| budget (s) | planned (s) | used (s) | ' + ' | '.join(budget['phases']) + ' |',
        '|---|---|---|' + '---|' * len(budget['phases']),
        f'| {budget["budget_s"]:.0f} | {budget["planned_s"]:.0f} | {budget["used_s"]:.1f} | ' +
        ' | '.join(f'{v:.1f}'
                   for v in budget['phases'].values()) + ' |', '', '## What did not fit', ''
    ] + [f'- {s}' for s in verdict['not_fit']] + [
        '', '## Warm training step (interleaved, median)', '',
        '| arm | step (ms) | images/s | x plain |', '|---|---|---|---|'
    ]
    timing = verdict['timing']
    for arm, t in timing.items():
        lines.append(f'| {arm} | {t["step"] * 1e3:.1f} | {t["images_per_s"]:.0f} | '
                     f'{t["step"] / timing[REFERENCE]["step"]:.2f} |')
    lines += ['', '## BA2M on the device vs the CPU', '']
    if 'skipped' in check:
        lines.append(check['skipped'])
    else:
        lines.append(
            f'{"ok" if check["ok"] else "NOT OK"}: relative differences logits '
            f'{check["logits"]:.1e}, input grad {check["input_grad"]:.1e}, param grad '
            f'{check["param_grad"]:.1e} ({check["param_grad_worst"]}), batch weights '
            f'{check["weights"]:.1e} (absolute); {check["dtype"]}, batch {check["batch"]}.')
    same = all(len(set(arms.values())) == 1 for arms in verdict['fingerprints'].values())
    lines += [
        '', f'Initial weights of the layers every arm shares, per seed: '
        f'{"the same in every arm" if same else "DIFFERENT between arms"}.', '',
        f'Environment: {json.dumps(verdict["environment"])}', ''
    ]
    return lines


def verdict_report(out_dir: str, header: str, evaluate: str, executed: Dict, verdict: Dict,
                   start: float) -> Dict:
    """Write ``<out_dir>/verdict.json`` and ``verdict.md`` (the comparison report plus
    :func:`_sections`); ``verdict.budget.used_s`` is taken last, before writing."""
    results = executed['results']
    verdict = dict(
        verdict,
        fingerprints=executed['fingerprints'],
        seeds_run=sorted({r['seed']
                          for r in results}),
        not_fit=verdict['not_fit'] + executed['incomplete'] + executed['skipped'])
    report = dict(
        header=header,
        metric=METRIC,
        metrics=[METRIC, 'loss'],
        evaluate=evaluate,
        reference=REFERENCE,
        seeds=verdict['seeds_run'],
        groups=[None],
        group_name='group',
        arms=[dict(name=a, label=LABELS[a]) for a in ARMS],
        results=results,
        summary=_summary(results) if results else [],
        differences=_differences(results),
        step_ratios={
            a:
            dict(
                time=t['step'],
                reference_time=verdict['timing'][REFERENCE]['step'],
                ratio=t['step'] / verdict['timing'][REFERENCE]['step'])
            for a, t in verdict['timing'].items() if a != REFERENCE
        },
        verdict=verdict)
    os.makedirs(out_dir, exist_ok=True)
    verdict['budget']['used_s'] = time.perf_counter() - start
    with open(osp.join(out_dir, 'verdict.json'), 'w') as f:
        json.dump(report, f, indent=1)
    with open(osp.join(out_dir, 'verdict.md'), 'w') as f:
        f.write('\n'.join([format_report(report)] + _sections(verdict)))
    return report


__all__ = ['METRIC', 'plan_runs', 'plan_verdict', 'run_verdict', 'seed_cost', 'verdict_report']
