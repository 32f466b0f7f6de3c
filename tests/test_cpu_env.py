"""A run on a machine without CUDA does not announce nccl (issue 20)."""
import pytest
import torch
from mmengine.config import Config

from ba2m_mm.launch import setup_cpu_distributed, use_cpu_backend

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')


@pytest.mark.parametrize('env_cfg, expected', [
    (dict(dist_cfg=dict(backend='nccl')), 'gloo'),
    (dict(dist_cfg=dict(backend='nccl', timeout=60)), 'gloo'),
    (dict(cudnn_benchmark=False), 'gloo'),
    (None, 'gloo'),
    (dict(dist_cfg=dict(backend='mpi')), 'mpi'),
])
def test_single_process_cpu_run_gets_a_cpu_backend(env_cfg, expected):
    cfg = Config(dict(env_cfg=env_cfg) if env_cfg is not None else {})
    assert setup_cpu_distributed(cfg, 'none') is False  # no process group for one process
    assert cfg.env_cfg.dist_cfg.backend == expected
    assert 'nccl' not in cfg.pretty_text
    if env_cfg and 'timeout' in env_cfg.get('dist_cfg', {}):
        assert cfg.env_cfg.dist_cfg.timeout == 60  # the rest is kept


def test_use_cpu_backend_warns_only_when_asked(monkeypatch):
    from ba2m_mm.launch import cpu
    said = []
    monkeypatch.setattr(cpu, '_warn', said.append)
    nccl = dict(env_cfg=dict(dist_cfg=dict(backend='nccl')))
    assert use_cpu_backend(Config(nccl)) == 'gloo'
    assert len(said) == 1 and "backend='nccl' needs CUDA" in said[0]
    assert use_cpu_backend(Config(nccl), warn=False) == 'gloo'
    assert setup_cpu_distributed(Config(nccl), 'none') is False
    assert len(said) == 1  # a single-process run is not warned about its config
