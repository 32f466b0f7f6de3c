"""Run safety: SIGKILL + resume, crash-safe checkpoint writes, CPU AMP, config mistakes."""
import importlib.util
import os
import os.path as osp
import runpy
import signal
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from mmengine.fileio import LocalBackend
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from ba2m_mm.checkpoint import InvalidCheckpointError, load_checkpoint_file
from ba2m_mm.engine import AtomicCheckpointHook
from ba2m_mm.engine.hooks.atomic_checkpoint_hook import atomic_write_text

_spec = importlib.util.spec_from_file_location(
    'ba2m_launch_helpers', osp.join(osp.dirname(osp.abspath(__file__)), 'test_launchers.py'))
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

digits = helpers.digits  # module-scoped fixture: the tiny digits COCO set


# ---------------------------------------------------------------- SIGKILL + --resume
def test_sigkill_mid_epoch_then_resume_finishes_like_uninterrupted(digits, tmp_path):
    epochs, per_epoch = 2, helpers.NUM_TRAIN // 2
    cfg = helpers.tiny_config(tmp_path, digits, name='killed', max_epochs=epochs)
    work = tmp_path / 'work'
    log_path = tmp_path / 'killed.log'
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(
            helpers.train_cmd(cfg, work),
            cwd=helpers.REPO,
            env=helpers.run_env(tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        # Kill in the middle of epoch 2 (iteration 2 of 4 logged).
        helpers.wait_for_log_line(proc, log_path, r'Epoch\(train\)\s*\[2\]\[\s*2/4\]')
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL  # SIGKILL cannot be ignored: no cap needed
    finally:
        helpers.kill_process_group(proc)  # also its dataloader workers, on any failure
        proc.wait()
    assert helpers.last_checkpoint(work) == str(work / 'epoch_1.pth')
    assert helpers.ckpt_meta(work / 'epoch_1.pth')['iter'] == per_epoch
    assert not (work / 'epoch_2.pth').exists()

    resumed = helpers.run(helpers.train_cmd(cfg, work, '--resume'), tmp_path)
    assert resumed.returncode == 0, resumed.out[-3000:]
    assert f'resumed epoch: 1, iter: {per_epoch}' in resumed.out
    meta = helpers.ckpt_meta(work / f'epoch_{epochs}.pth')

    # The same config, uninterrupted.
    clean = tmp_path / 'clean'
    proc = helpers.run(helpers.train_cmd(cfg, clean), tmp_path)
    assert proc.returncode == 0, proc.out[-3000:]
    clean_meta = helpers.ckpt_meta(clean / f'epoch_{epochs}.pth')
    assert (meta['epoch'], meta['iter']) == (clean_meta['epoch'], clean_meta['iter'])
    assert meta['iter'] == epochs * per_epoch
    # Every iteration of the schedule ran after the restart; those of the killed
    # epoch ran twice (mmengine restarts an epoch from its first batch).
    ba2m2 = [r['iter'] for r in helpers.read_probe(work) if r['name'] == 'backbone.ba2m2']
    assert ba2m2[-(epochs - 1) * per_epoch:] == list(range(per_epoch, epochs * per_epoch))


# ------------------------------------------------------- crash inside a checkpoint write
class ToyDataset(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return dict(inputs=torch.full((2, ), float(index)), labels=torch.ones(1))


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(inputs)  # (N, 1)
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


class SimulatedCrash(Exception):
    pass


def toy_runner(work_dir, hook_type, name, resume=False, max_iters=4, **kwargs):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            checkpoint=dict(type=hook_type, interval=2, by_epoch=False, max_keep_ckpts=1)),
        resume=resume,
        **kwargs)


def test_one_cycle_checkpoints_load_safely_and_resume(tmp_path, monkeypatch):
    """OneCycleLR's state holds a function (anneal_func): mmengine's hook
    pickles it and the safe loader refuses the file; ours leaves it out, and
    --resume continues the schedule."""
    from ba2m_mm.checkpoint.safe_load import UnsafeCheckpointError
    one_cycle = dict(
        param_scheduler=dict(type='OneCycleLR', eta_max=0.1, total_steps=4, by_epoch=False))
    plain = tmp_path / 'plain'
    toy_runner(plain, 'CheckpointHook', 'one_cycle_plain', max_iters=2, **one_cycle).train()
    with pytest.raises(UnsafeCheckpointError, match='OneCycleParamScheduler'):
        load_checkpoint_file(str(plain / 'iter_2.pth'))

    work = tmp_path / 'atomic'
    toy_runner(work, 'AtomicCheckpointHook', 'one_cycle_a', max_iters=2, **one_cycle).train()
    (state, ) = load_checkpoint_file(str(work / 'iter_2.pth'))['param_schedulers']
    assert 'anneal_func' not in state and state['total_steps'] == 4
    resumed = toy_runner(
        work, 'AtomicCheckpointHook', 'one_cycle_b', resume=True, max_iters=4, **one_cycle)
    resumed.train()
    # the same as resuming mmengine's file, loaded in full (the user's opt-in)
    monkeypatch.setenv('BA2M_MM_UNSAFE_LOAD', '1')
    full = toy_runner(
        plain, 'CheckpointHook', 'one_cycle_plain_b', resume=True, max_iters=4, **one_cycle)
    full.train()
    assert resumed.iter == full.iter == 4
    assert resumed.optim_wrapper.get_lr() == full.optim_wrapper.get_lr()
    assert resumed.param_schedulers[0].state_dict() == full.param_schedulers[0].state_dict()


def crash_while_writing(monkeypatch, marker):
    """Make the checkpoint write whose path contains ``marker`` die half-way."""
    put = LocalBackend.put

    def half_put(self, obj, filepath):
        if marker in str(filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise SimulatedCrash(filepath)
        return put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', half_put)


@pytest.mark.parametrize('hook_type', ['CheckpointHook', 'AtomicCheckpointHook'])
def test_crash_during_checkpoint_write(hook_type, tmp_path, monkeypatch):
    work = tmp_path / hook_type
    crash_while_writing(monkeypatch, 'iter_4')
    with pytest.raises(SimulatedCrash):
        toy_runner(work, hook_type, f'crash_{hook_type}').train()
    last = helpers.last_checkpoint(work)
    assert last == str(work / 'iter_2.pth')
    if hook_type == 'CheckpointHook':
        # mmengine deletes iter_2.pth (max_keep_ckpts=1) before writing iter_4.pth:
        # last_checkpoint names a file that no longer exists, iter_4.pth is truncated.
        assert not osp.exists(last)
        with pytest.raises(InvalidCheckpointError, match='is truncated or corrupt'):
            load_checkpoint_file(str(work / 'iter_4.pth'))
        return
    assert helpers.ckpt_meta(last)['iter'] == 2  # loadable
    assert not (work / 'iter_4.pth').exists()
    assert (work / 'iter_4.pth.tmp').exists()

    monkeypatch.undo()
    runner = toy_runner(work, hook_type, f'resume_{hook_type}', resume=True)
    runner.train()
    assert runner.iter == 4
    assert helpers.last_checkpoint(work) == str(work / 'iter_4.pth')
    assert helpers.ckpt_meta(work / 'iter_4.pth')['iter'] == 4
    assert not (work / 'iter_4.pth.tmp').exists()  # stale temp file removed
    assert not (work / 'iter_2.pth').exists()  # max_keep_ckpts=1 still applies


def test_atomic_write_text_keeps_old_content_on_crash(tmp_path, monkeypatch):
    path = tmp_path / 'last_checkpoint'
    atomic_write_text(str(path), '/a/epoch_1.pth')

    def crash(src, dst):
        raise SimulatedCrash(dst)

    monkeypatch.setattr(os, 'replace', crash)
    with pytest.raises(SimulatedCrash):
        atomic_write_text(str(path), '/a/epoch_2.pth')
    assert path.read_text() == '/a/epoch_1.pth'


def test_atomic_hook_is_default_in_tools_train():
    from mmengine.config import Config

    from ba2m_mm.checkpoint import use_atomic_checkpoints
    cfg = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3))))
    assert use_atomic_checkpoints(cfg)
    assert cfg.default_hooks.checkpoint == dict(type='AtomicCheckpointHook', interval=3)
    assert issubclass(AtomicCheckpointHook, __import__('mmengine').hooks.CheckpointHook)


# ------------------------------------------------------------------------- AMP on CPU
def test_amp_on_cpu_bfloat16_finite_losses(digits, tmp_path):
    cfg = helpers.tiny_config(tmp_path, digits, name='amp')
    work = tmp_path / 'work'
    proc = helpers.run(
        helpers.train_cmd(cfg, work, '--amp', '--cfg-options',
                          'train_dataloader.dataset.indices=4'), tmp_path)
    assert proc.returncode == 0, proc.out[-3000:]
    assert 'bfloat16 autocast on CPU' in proc.out
    rows = helpers.read_probe(work)
    assert len(rows) == 2 * 3  # 2 iterations x 3 BA2M modules
    for row in rows:
        assert row['feat_dtype'] == 'torch.bfloat16'  # the backbone ran under autocast
        assert row['losses'] and all(
            torch.isfinite(torch.tensor(v)) for v in row['losses'].values()), row
    assert helpers.ckpt_meta(work / 'epoch_1.pth')['iter'] == 2


# ------------------------------------------------------------------ config mistakes
def run_train_in_process(monkeypatch, config, work_dir, *args):
    monkeypatch.setattr(sys, 'argv', ['train.py', config, '--work-dir', str(work_dir), *args])
    runpy.run_path(osp.join(helpers.TOOLS, 'train.py'), run_name='__main__')


def test_missing_pretrained_file_names_the_option(digits, tmp_path, monkeypatch):
    # The demo config has init_cfg=None, hence _delete_.
    extra = ("model['backbone']['init_cfg'] = dict(_delete_=True, type='Pretrained', "
             "checkpoint='/nonexistent.pth')\n")
    cfg = helpers.tiny_config(tmp_path, digits, name='pretrained', probe=False, extra=extra)
    with pytest.raises(FileNotFoundError) as info:
        run_train_in_process(monkeypatch, cfg, tmp_path / 'work')
    msg = str(info.value)
    assert "model.backbone.init_cfg.checkpoint='/nonexistent.pth'" in msg
    assert '--cfg-options model.backbone.init_cfg=None' in msg


@pytest.mark.parametrize('option, value, expected', [
    ('model.backbone.ba2m_position', 'middle',
     "ba2m_position must be one of ('between', 'inside'), got 'middle'"),
    ('model.backbone.ba2m_stages', '[True,True]', 'ba2m_stages must be a tuple/list of 4 bools'),
    ('model.backbone.ba2m_cfg.reduction', '64', 'reduction must be an int in [1, in_channels=16]'),
])
def test_ba2m_config_mistakes_through_tools_train(digits, tmp_path, monkeypatch, option, value,
                                                  expected):
    name = 'mistake_' + option.rsplit('.', 1)[-1]
    cfg = helpers.tiny_config(tmp_path, digits, name=name, probe=False)
    with pytest.raises(ValueError) as info:
        run_train_in_process(monkeypatch, cfg, tmp_path / 'work', '--cfg-options',
                             f'{option}={value}')
    assert 'BA2MResNet' in str(info.value)
    assert expected in str(info.value)


def test_missing_load_from_or_resume_path_names_the_option():
    from mmengine.config import Config

    from ba2m_mm.checkpoint import check_pretrained_paths
    with pytest.raises(FileNotFoundError, match=r"load_from='/nope.pth': no such checkpoint"):
        check_pretrained_paths(Config(dict(load_from='/nope.pth')))
    with pytest.raises(FileNotFoundError, match=r"--resume='/nope.pth': no such checkpoint"):
        check_pretrained_paths(Config(dict(load_from='/nope.pth', resume=True)))
    check_pretrained_paths(Config(dict(load_from='https://host/x.pth', resume=False)))  # URL: ok
