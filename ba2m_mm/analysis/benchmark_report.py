"""What a benchmark reports: the ratio table, the chart and the environment."""
from typing import Dict, Optional

import torch

from .benchmark_settings import DEFAULT_BA2M, FAST_PATHS, GOALS, GOALS_CUDA, SETTINGS, SETTINGS_CUDA


def round_ratios(model: Dict, plain: Dict, key: str) -> list:
    """The model's ratios to plain round by round (``<key>_times`` of both, the
    models interleaved in every round)."""
    return [m / p for m, p in zip(model.get(f'{key}_times', []), plain.get(f'{key}_times', []))]


def verdict_shortfall(setting: str, res: Dict) -> Optional[str]:
    """Why a result has too few rounds or steps for verdicts on the goals: the
    setting's default rounds x steps on its device are the least they need.
    None when it has enough (or does not say, e.g. an older report)."""
    need = (SETTINGS_CUDA if res.get('device') == 'cuda' else SETTINGS).get(setting)
    if need is None or 'rounds' not in res or 'steps' not in res:
        return None
    if res['rounds'] >= need['rounds'] and res['steps'] >= need['steps']:
        return None
    return (f'{res["rounds"]} round(s) x {res["steps"]} step(s) is fewer than the '
            f'{need["rounds"]} x {need["steps"]} the goals need ({setting} default on '
            f'{res.get("device", "cpu")}); ratios of so few steps are noise next to the goals\' '
            'margins')


def format_results(setting: str, res: Dict) -> str:
    cuda = res.get('device') == 'cuda'
    unit, scale, fmt = ('ms', 1e3, '.2f') if cuda else ('s', 1, '.3f')
    lines = [
        f'{setting}: batch {res["batch"]}, {res["shape"][0]}x{res["shape"][1]}'
        f'{", bf16 AMP" if res.get("amp") else ""}'
        f'{", channels_last" if res.get("channels_last") else ""}{", cuda" if cuda else ""} '
        f'(medians of {res["rounds"]} rounds)',
        f'{"model":<14}{"train " + unit:>9}{"ratio":>7}{"infer " + unit:>9}{"ratio":>7}'
        f'{"peak MiB":>10}{"ratio":>7}'
    ]
    for name, r in res['models'].items():

        def ratio(key):
            return f'{r[key]:.3f}' if r.get(key) is not None else '-'

        lines.append(f'{name:<14}{r["train_s"] * scale:>9{fmt}}{ratio("train_ratio"):>7}'
                     f'{r["infer_s"] * scale:>9{fmt}}{ratio("infer_ratio"):>7}'
                     f'{r["peak_mem_mib"]:>10.0f}{ratio("mem_ratio"):>7}')
    default = res['models'].get(DEFAULT_BA2M[setting])
    shortfall = verdict_shortfall(setting, res)
    if default and 'train_ratio' in default and shortfall:
        goal = (GOALS_CUDA if cuda else GOALS)[setting]
        lines.append(f'goals ({DEFAULT_BA2M[setting]} / plain: train <= {goal["train"]}, '
                     f'inference <= {goal["infer"]}): no verdict: {shortfall}')
        lines.append(f'ratios to plain: of the medians (min-max of the {res["rounds"]} '
                     'per-round ratios)')
        plain = res['models']['plain']
        for name, r in res['models'].items():
            if name == 'plain':
                continue
            spread = []
            for key, label in (('train', 'train'), ('infer', 'inference')):
                per_round = round_ratios(r, plain, key)
                span = (f' ({min(per_round):.3f}-{max(per_round):.3f})' if per_round else '')
                spread.append(f'{label} {r[f"{key}_ratio"]:.3f}{span}')
            lines.append(f'  {name:<14}{", ".join(spread)}')
    elif default and 'train_ratio' in default:
        goal = (GOALS_CUDA if cuda else GOALS)[setting]
        lines.append(f'goals ({DEFAULT_BA2M[setting]} / plain): train <= {goal["train"]} '
                     f'(measured {default["train_ratio"]:.3f}, '
                     f'{"met" if default["train_ratio"] <= goal["train"] else "NOT met"}), '
                     f'inference <= {goal["infer"]} (measured {default["infer_ratio"]:.3f}, '
                     f'{"met" if default["infer_ratio"] <= goal["infer"] else "NOT met"})')
    return '\n'.join(lines)


def format_fast_paths(setting: str, modes: Dict[str, Dict], threads: Optional[int] = None) -> str:
    """The four-setting table of one benchmark setting: per mode (fp32, bf16
    autocast, each with and without channels_last; :data:`FAST_PATHS`), the
    training step per image of plain and of each other model, the ratio to
    plain (of the medians, with the min-max of the per-round ratios: the
    models ran interleaved in each round), and how fast plain runs against
    plain in fp32 (modes run one after another, not interleaved).

    Args:
        setting (str): The benchmark setting, e.g. ``'testbed'``.
        modes (dict): ``{mode: result of run_setting}``, any subset of
            :data:`FAST_PATHS`, each with a ``plain`` model.
        threads (int, optional): Threads the run used, for the title.

    Returns:
        str: A markdown table with a title line.
    """
    order = [m for m in FAST_PATHS if m in modes]
    if not order:
        raise ValueError(f'{setting}: no fast-path results (modes {list(FAST_PATHS)})')
    first = modes[order[0]]
    names = list(first['models'])
    if 'plain' not in names:
        raise ValueError(f'{setting}: the fast-path table needs plain (ratios), got {names}')
    others = [n for n in names if n != 'plain']
    lines = [
        f'{setting}: batch {first["batch"]}, {first["shape"][0]}x{first["shape"][1]}, '
        f'{first["device"]}{f", {threads} thread(s)" if threads else ""}; training step, '
        'ms per image (median of the rounds); ratio = model / plain of the medians (min-max '
        'of the per-round ratios)', '', '| setting | rounds x steps | plain ms/image | ' +
        ' | '.join(f'{n} ms/image | {n} / plain' for n in others) + ' | plain vs fp32 plain |',
        '|---|---|---|' + '---|---|' * len(others) + '---|'
    ]
    per_image = {m: 1e3 / modes[m]['batch'] for m in order}
    fp32_plain = modes['fp32']['models']['plain']['train_s'] if 'fp32' in modes else None
    for m in order:
        models = modes[m]['models']
        plain = models['plain']
        cells = [
            m, f'{modes[m]["rounds"]} x {modes[m]["steps"]}',
            f'{plain["train_s"] * per_image[m]:.2f}'
        ]
        for n in others:
            r = models[n]
            per_round = round_ratios(r, plain, 'train')
            span = f' ({min(per_round):.2f}-{max(per_round):.2f})' if per_round else ''
            cells += [f'{r["train_s"] * per_image[m]:.2f}', f'{r["train_ratio"]:.3f}{span}']
        if fp32_plain is None:
            cells.append('-')
        else:
            speed = fp32_plain / plain['train_s']
            cells.append(f'{speed:.2f}x {"faster" if speed >= 1 else "(slower)"}' if m !=
                         'fp32' else '1.00x')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot(results: Dict, out: str):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    settings = [s for s in results if 'plain' in results[s]['models']]
    metrics = (('train_ratio', 'training step'), ('infer_ratio', 'inference'),
               ('mem_ratio', 'peak memory (train)'))
    fig, axes = plt.subplots(
        len(settings),
        len(metrics),
        squeeze=False,
        figsize=(4.5 * len(metrics), 3.6 * len(settings)))
    for row, setting in zip(axes, settings):
        models = results[setting]['models']
        for ax, (key, label) in zip(row, metrics):
            names = list(models)
            values = [models[n].get(key) or 0 for n in names]
            colors = [
                'tab:gray' if n == 'plain' else 'tab:red' if n.startswith('ba2m') else 'tab:blue'
                for n in names
            ]
            ax.bar(range(len(names)), values, color=colors)
            ax.set_xticks(range(len(names)), names, rotation=35, ha='right', fontsize=8)
            ax.axhline(1.0, color='k', lw=0.8)
            goals = GOALS_CUDA if results[setting].get('device') == 'cuda' else GOALS
            goal = goals[setting].get(key.split('_')[0])
            if goal:
                ax.axhline(goal, color='tab:red', ls='--', lw=0.8, label=f'goal {goal}')
                ax.legend(fontsize=7)
            ax.set_title(f'{setting}: {label} / plain', fontsize=9)
            for i, v in enumerate(values):
                ax.text(i, v, f'{v:.2f}', ha='center', va='bottom', fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def environment(device: torch.device) -> Dict:
    env = dict(device=str(device), torch=torch.__version__, threads=torch.get_num_threads())
    if device.type == 'cuda':
        env.update(
            gpu=torch.cuda.get_device_name(device),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            cudnn_benchmark=torch.backends.cudnn.benchmark,
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
            tf32_cudnn=torch.backends.cudnn.allow_tf32)
    return env
