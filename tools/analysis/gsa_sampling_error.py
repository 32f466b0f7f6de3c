"""How far the sampled global spatial attention (gsa_mode='sampled') is from the exact one.

BA2M's global branch needs only the spatial mean of softmax(q k^T) v. ``'sampled'`` averages
M query positions instead of all H*W. For a BA2M with random weights on post-ReLU feature
maps with per-image channel profiles, this script reports over ``--draws`` draws:

- the relative error of the pooled attention output, ``||o_M - o|| / ||o||``;
- the error of the branch's response in units that matter for BA2M: ``|z_M - z| / s``, with
  ``s`` the spread of the exact response ``z = W o`` across the images of the batch, per
  channel (the SAR compares images, so an error is small when it is small against how much
  the images differ).

Example::

    python tools/analysis/gsa_sampling_error.py --channels 512 --size 100 168 --samples 64 256 1024
"""
import argparse
import os

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks

# isort: split
import torch


def feature_maps(batch: int, channels: int, size, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    profile = torch.rand(batch, channels, 1, 1, generator=gen) * 2  # per-image channel profile
    return torch.relu(torch.randn(batch, channels, *size, generator=gen) + profile)


def measure(channels: int, size, samples, batch: int, draws: int, reduction: int, seed: int):
    import math

    from ba2m_mm.models.layers import GlobalSpatialAttention
    torch.manual_seed(seed)
    hidden = channels // reduction
    groups = math.gcd(math.gcd(reduction, hidden), channels)
    x = feature_maps(batch, channels, size, seed)
    rows = []
    with torch.no_grad():
        exact_gsa = GlobalSpatialAttention(channels, hidden, groups, mode='exact')
        exact = exact_gsa.pooled_attention(x)  # (N, d)
        proj = exact_gsa.proj_weight
        from ba2m_mm.models.layers.global_spatial import block_diagonal
        w = block_diagonal(proj, exact_gsa.proj_mask)  # (C, d)
        z = exact @ w.t()  # (N, C)
        spread = z.std(dim=0).clamp(min=1e-12)  # (C,)
        for m in samples:
            gsa = GlobalSpatialAttention(channels, hidden, groups, mode='sampled', num_samples=m)
            gsa.load_state_dict(exact_gsa.state_dict())
            rel, bn_units = [], []
            for _ in range(draws):
                est = gsa.pooled_attention(x)
                rel.append(((est - exact).norm(dim=1) / exact.norm(dim=1)).mean().item())
                bn_units.append(((est @ w.t() - z).abs() / spread).mean().item())
            rows.append(
                dict(
                    samples=m,
                    relative_error=sum(rel) / draws,
                    error_in_spread=sum(bn_units) / draws))
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--channels', type=int, default=512)
    parser.add_argument('--size', type=int, nargs=2, default=(100, 168), metavar=('H', 'W'))
    parser.add_argument('--samples', type=int, nargs='+', default=(64, 256, 1024))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--draws', type=int, default=10)
    parser.add_argument('--reduction', type=int, default=32)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args(argv)
    print(
        f'C={args.channels}, {args.size[0]}x{args.size[1]} = {args.size[0] * args.size[1]} '
        f'positions, batch {args.batch}, {args.draws} draws, random weights (seed {args.seed})',
        flush=True)
    rows = measure(args.channels, tuple(args.size), args.samples, args.batch, args.draws,
                   args.reduction, args.seed)
    print('| M | relative error of pooled output | error / spread across images |')
    print('|---|---|---|')
    for r in rows:
        print(f'| {r["samples"]} | {r["relative_error"]:.4f} | {r["error_in_spread"]:.4f} |')
    return rows


if __name__ == '__main__':
    main()
