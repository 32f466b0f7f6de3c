"""BA2M on CUDA against BA2M on CPU: the testbed's BA2M twin, one training forward and
backward on the same real batch, fp32 without TF32 (the check of ``gpu_check.py``, on the
model the verdict trains)."""
import copy
import os.path as osp
import platform
from typing import Dict

import torch
from mmengine.config import Config

from .verdict_data import DeviceSplit
from .verdict_train import ba2m_modules, quiet_build


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |a| (0 where both are 0)."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    scale = float(a.abs().max())
    return float((a - b).abs().max()) / scale if scale > 0 else float((a - b).abs().max())


def compare_devices(cfg: Config,
                    data: DeviceSplit,
                    device: torch.device,
                    batch: int = 64,
                    tolerance: float = 1e-3) -> Dict:
    """Outputs and gradients of the BA2M twin on ``device`` against the CPU.

    The global branch runs ``gsa_mode='exact'`` (the sampled form draws its positions
    from each device's own generator), and the BA2M branch BN (gamma, beta) is drawn
    at random so that the batch weights are not all 1 (they are at init).

    Args:
        cfg (Config): The BA2M testbed config.
        data (DeviceSplit): Images for the batch (the first ``batch``).
        device (torch.device): The device compared with the CPU (the CPU itself in a
            dry run: every difference is then 0).
        batch (int): Images. Defaults to 64.
        tolerance (float): ``ok`` when every relative difference is below it.

    Returns:
        dict: Relative differences (max |a - b| / max |a|) of the ``logits``, the
        ``input_grad``, the worst ``param_grad`` (and its name), the ``loss``, the largest
        absolute difference of the batch weights (``weights``), ``worst`` and ``ok``.
    """
    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.ba2m_cfg.gsa_mode = 'exact'
    cpu_model = quiet_build(cfg, 0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in ba2m_modules(cpu_model):
            for p in module.bn.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
    dev_model = copy.deepcopy(cpu_model).to(device)
    x, y = data.batch(0, batch)
    x, y = x.cpu(), y.cpu()  # x: (B, 3, 32, 32)
    flags = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    outs = []
    try:
        for model, dev in ((cpu_model, torch.device('cpu')), (dev_model, device)):
            model = model.to(memory_format=torch.channels_last)
            xx = x.to(dev).contiguous(memory_format=torch.channels_last).requires_grad_()
            logits = model.head(model.extract_feat(xx))  # (B, 10)
            loss = model.head.loss_module(logits, y.to(dev), avg_factor=y.numel())
            loss.backward()
            outs.append(
                dict(
                    logits=logits,
                    loss=loss,
                    input_grad=xx.grad,
                    grads={
                        n: p.grad
                        for n, p in model.named_parameters() if p.grad is not None
                    },
                    weights=[m.last_weights for m in ba2m_modules(model)]))
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags
    ref, other = outs
    grads = {n: _rel(g, other['grads'][n]) for n, g in ref['grads'].items()}
    worst_param = max(grads, key=grads.get)
    out = dict(
        device=str(device),
        batch=batch,
        dtype='float32, TF32 off',
        gsa_mode='exact',
        logits=_rel(ref['logits'], other['logits']),
        loss=_rel(ref['loss'], other['loss']),
        input_grad=_rel(ref['input_grad'], other['input_grad']),
        param_grad=grads[worst_param],
        param_grad_worst=worst_param,
        weights=max(
            float((a - b.cpu()).abs().max()) for a, b in zip(ref['weights'], other['weights'])),
        weight_spread=[float(w.std()) for w in ref['weights']])
    out['worst'] = max(out[k] for k in ('logits', 'loss', 'input_grad', 'param_grad'))
    out['ok'] = out['worst'] < tolerance
    return out


def device_check(cfg: Config, data: DeviceSplit, device: torch.device) -> Dict:
    """:func:`compare_devices` on CUDA; a line saying it was skipped elsewhere."""
    if device.type != 'cuda':
        check = dict(skipped='CUDA-vs-CPU check: skipped (no CUDA device in this run).')
        print(f'[verdict] {check["skipped"]}', flush=True)
        return check
    check = compare_devices(cfg, data, device)
    print(
        f'[verdict] BA2M CUDA vs CPU: worst relative difference {check["worst"]:.1e} '
        f'({"ok" if check["ok"] else "NOT OK"})',
        flush=True)
    return check


def environment(device: torch.device, **extra) -> Dict:
    """Python, torch, the device and its precision, threads, plus ``extra``."""
    cuda = device.type == 'cuda'
    return dict(
        python=platform.python_version(),
        torch=torch.__version__,
        device=str(device),
        gpu=torch.cuda.get_device_name(device) if cuda else None,
        precision='bf16 autocast' if cuda else 'fp32',
        channels_last=True,
        threads=torch.get_num_threads(),
        **extra)


def relative_paths(paths: Dict[str, str], root: str) -> Dict[str, str]:
    """``paths`` relative to ``root``."""
    return {k: osp.relpath(v, root) for k, v in paths.items()}


__all__ = ['compare_devices', 'device_check', 'environment', 'relative_paths']
