"""Forward+backward time of each BA2M branch on the ResNet-50 stage shapes."""
import statistics
import time
from typing import Dict, List

import torch


def profile_branches(batch: int = 8, repeats: int = 7, reduction: int = 32) -> List[Dict]:
    """Forward+backward time of each BA2M branch on the ResNet-50 stage shapes
    (224x224 input), next to the full BA2M and the ResNet stage itself. A
    branch is timed as a BA2M with that branch alone (the branches share one
    input projection and one SAR node, so they cannot run apart).

    Per stage, the items are timed round-robin (``repeats`` rounds after one
    warm-up round) and the median is kept, so a load change hits all alike.
    """
    from mmpretrain.models.backbones.resnet import Bottleneck, ResLayer

    from ba2m_mm.models.layers import BA2M
    stages = [(256, 56, 3, 64), (512, 28, 4, 256), (1024, 14, 6, 512), (2048, 7, 3, 1024)]
    rows = []

    def fwd_bwd(module, x) -> float:
        x = x.detach().requires_grad_()
        start = time.perf_counter()
        module(x).float().sum().backward()
        return time.perf_counter() - start

    for i, (c, hw, blocks, in_c) in enumerate(stages, 1):
        torch.manual_seed(0)
        x = torch.randn(batch, c, hw, hw)  # stage output = BA2M input
        in_hw = hw if i == 1 else 2 * hw
        items = dict(
            stage=(ResLayer(Bottleneck, blocks, in_c, c, stride=1 if i == 1 else 2).train(),
                   torch.randn(batch, in_c, in_hw, in_hw)))
        for mode in ('exact', 'sampled'):
            ba2m = BA2M(c, reduction=reduction, gsa_mode=mode, name=f'layer{i}').train()
            items[f'ba2m_{mode}'] = (ba2m, x)
            for branch in ba2m.branches:
                key = branch if branch != 'global' else f'global_{mode}'
                if key not in items:
                    alone = BA2M(c, reduction=reduction, branches=(branch, ), gsa_mode=mode)
                    items[key] = (alone.train(), x)
        times = {key: [] for key in items}
        for r in range(repeats + 1):
            for key, (module, inputs) in items.items():
                elapsed = fwd_bwd(module, inputs)
                if r:  # round 0 is a warm-up
                    times[key].append(elapsed)
        row = dict(stage=f'layer{i}', shape=[batch, c, hw, hw])
        row.update({f'{key}_s': statistics.median(t) for key, t in times.items()})
        rows.append(row)
        print(
            f'[profile] layer{i} {tuple(x.shape)}: stage {row["stage_s"] * 1e3:.1f} ms, '
            f'BA2M exact {row["ba2m_exact_s"] * 1e3:.1f} ms / sampled '
            f'{row["ba2m_sampled_s"] * 1e3:.1f} ms; channel {row["channel_s"] * 1e3:.1f}, '
            f'local {row["local_s"] * 1e3:.1f}, global exact {row["global_exact_s"] * 1e3:.1f} '
            f'/ sampled {row["global_sampled_s"] * 1e3:.1f} ms',
            flush=True)
    return rows


def format_profile(rows: List[Dict]) -> str:
    cols = ('stage_s', 'ba2m_exact_s', 'ba2m_sampled_s', 'channel_s', 'local_s', 'global_exact_s',
            'global_sampled_s')
    head = f'{"stage":<8}{"shape":<22}' + ''.join(f'{c[:-2]:>16}' for c in cols)
    lines = ['BA2M branch profile, forward+backward, ms (median), ResNet-50 @224, R=32', head]
    for r in rows:
        lines.append(f'{r["stage"]:<8}{str(tuple(r["shape"])):<22}' + ''.join(f'{r[c] * 1e3:>16.2f}'
                                                                              for c in cols))
    total = {c: sum(r[c] for r in rows) for c in cols}
    lines.append(f'{"total":<30}' + ''.join(f'{total[c] * 1e3:>16.2f}' for c in cols))
    lines.append(f'BA2M (auto = exact at these sizes) / ResNet-50 stages (fwd+bwd): '
                 f'{total["ba2m_exact_s"] / total["stage_s"]:.3f}; sampled: '
                 f'{total["ba2m_sampled_s"] / total["stage_s"]:.3f}')
    return '\n'.join(lines)
