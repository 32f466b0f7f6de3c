"""The first SGD steps of a BA2M classifier: does the batch softmax stay sane?"""
import copy
from typing import Dict, List, Optional

import torch
from mmengine.config import Config

from .classifier import build_classifier, sgd_step, train_batches


def first_steps(cfg: Config,
                steps: int = 12,
                lr: float = 0.05,
                batch_size: Optional[int] = None,
                seed: int = 0) -> List[Dict]:
    """Train a classifier config for ``steps`` SGD steps on its training data
    (no Runner loop, no schedule) and record, per step, the loss and every
    BA2M's largest and smallest batch weight and the std of its SARs.

    Args:
        cfg (Config): An mmpretrain classification config with a BA2M
            backbone.
        steps (int): SGD steps. Defaults to 12.
        lr (float): SGD learning rate (momentum 0.9). Defaults to 0.05.
        batch_size (int, optional): Images per step. Defaults to the config's.
        seed (int): Seed of the initialisation and data order. Defaults to 0.

    Returns:
        list[dict]: Per step: ``loss`` and ``{stage: dict(w_max, w_min,
        sar_std)}`` under ``ba2m``.
    """
    model = build_classifier(cfg, seed)
    batches = train_batches(cfg, batch_size, seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    ba2ms = [(m.name or path, m) for path, m in model.named_modules()
             if hasattr(m, 'last_weights') and hasattr(m, 'sample_attention')]
    records = []
    for _ in range(steps):
        loss = sgd_step(model, optimizer, next(batches))
        stages = {}
        for name, m in ba2ms:
            w = m.last_weights
            if w is None:
                continue
            log_w = torch.log(w.clamp_min(1e-30))
            stages[name] = dict(
                w_max=float(w.max()), w_min=float(w.min()), sar_std=float(log_w.std()))
        records.append(dict(loss=float(loss.detach()), ba2m=stages))
    return records


@torch.no_grad()
def sar_spread(cfg: Config, batch_size: Optional[int] = None, seed: int = 0) -> Dict:
    """Why the SARs of a batch spread: one training batch through a freshly
    initialised BA2M classifier with gamma = 1 (``zero_init=False``), and per
    BA2M stage, with the prior statistics (mean 0, var 1: what the first
    forward used with ``statistics='running'``) and with the batch's own:

    - ``var_ratio``: median over channels of the batch variance of z = W h
      over the variance normalised with (1 for the prior);
    - ``sar_std``: std over the batch of the SARs (= of log-weights);
    - ``channel_corr``: mean correlation between two channels of the
      normalised channel-branch response over the batch (1: the C channels
      move together, so their mean over C does not average out);
    - ``sar_std_independent``: what ``sar_std`` would be with independent
      channels: std of the per-channel max / sqrt(C);
    - ``sar_std_no_max``: std of the channel branch's mean over C alone
      (Eq. 9 without the max over branches);
    - ``energy_corr``: correlation over the batch between the SAR and the
      image's response energy (RMS of its responses over branches and
      channels). The max over branches rectifies: E[max of 3 zero-mean
      responses] grows with their scale, so the SAR measures each image's
      energy, a factor shared by every channel that no mean over C removes.
    """
    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.setdefault('ba2m_cfg', {})['zero_init'] = False
    model = build_classifier(cfg, seed)
    data = model.data_preprocessor(next(train_batches(cfg, batch_size, seed)), True)
    inputs = {}
    handles = [
        m.register_forward_pre_hook(lambda mod, args: inputs.setdefault(mod.name, args[0]))
        for m in model.modules() if hasattr(m, 'sample_attention')
    ]
    model.backbone(data['inputs'])
    for h in handles:
        h.remove()
    out = {}
    for m in (m for m in model.modules() if hasattr(m, 'sample_attention')):
        pooled, weight, maps = m._branch_outputs(inputs[m.name])
        mean, var = m.bn.batch_moments(pooled, weight, maps)
        stats = {}
        for name, (mu, v) in dict(
                prior=(torch.zeros_like(mean), torch.ones_like(var)), batch=(mean, var)).items():
            z = torch.bmm(pooled, weight.transpose(1, 2))  # (B, N, C)
            responses = (z - mu[:, None]) / v.clamp_min(m.bn.eps).sqrt()[:, None]
            strongest = responses.amax(dim=0)  # (N, C)
            sar = strongest.mean(dim=1)  # (N,)
            channel = torch.corrcoef(responses[0].T)  # (C, C) over the batch
            c = channel.size(0)
            off = (channel.nansum() - channel.diagonal().nansum()) / (c * (c - 1))
            energy = responses.pow(2).mean(dim=(0, 2)).sqrt()  # (N,)
            stats[name] = dict(
                var_ratio=float((var / v).median()),
                sar_std=float(sar.std()),
                sar_std_no_max=float(responses[0].mean(dim=1).std()),
                energy_corr=float(torch.corrcoef(torch.stack([sar, energy]))[0, 1]),
                channel_corr=float(off),
                sar_std_independent=float(strongest.std(dim=0).mean() / c**0.5),
                w_max=float((torch.softmax(sar, 0) * sar.numel()).max()))
        out[m.name] = stats
    return out
