"""Launchers: tools/train.py, tools/test.py, tools/dist_train.sh on CPU (real subprocesses).

Tiny Mask R-CNN (BA2MResNet-18 with 8 base channels, 16-channel FPN) on 64x64
digits images written by ``build_digits_coco``; a few iterations per run.
"""
import json
import os
import os.path as osp
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(REPO, 'tools')
DEMO_CONFIG = osp.join(REPO, 'configs', 'demo_mask_rcnn_r18_ba2m_digits.py')
NUM_TRAIN = 8

# A hook imported by the test configs (custom_imports): after every training
# iteration it writes, per BA2M module, the number of local samples, the sum of
# their weights, that sum all-reduced over the processes, the losses and the
# dtype of the backbone's stage-1 output (bfloat16 under CPU autocast).
PROBE = '''
import json
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


def is_ba2m(module):
    # By name: importing ba2m_mm here would register BA2MResNet, and some tests need
    # configs that do not import ba2m_mm.
    return type(module).__name__ == 'BA2M' and hasattr(module, 'last_weights')


@HOOKS.register_module()
class BA2MProbeHook(Hook):

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self.dtypes = []
        model.backbone.layer1.register_forward_hook(
            lambda mod, args, out: self.dtypes.append(str(out.dtype)))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        rows = []
        for name, m in model.named_modules():
            if is_ba2m(m) and m.last_weights is not None:
                local = m.last_weights.sum()
                total = local.clone()
                if dist.is_available() and dist.is_initialized():
                    dist.all_reduce(total)
                rows.append(dict(iter=runner.iter, rank=runner.rank, name=name,
                                 n=m.last_weights.numel(), local_sum=float(local),
                                 global_sum=float(total), feat_dtype=self.dtypes[-1],
                                 losses={k: float(torch.as_tensor(v).detach())
                                         for k, v in outputs.items()}))
        with open(osp.join(runner.work_dir, f'probe_rank{runner.rank}.jsonl'), 'a') as f:
            for row in rows:
                f.write(json.dumps(row) + '\\n')
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tiny_config(tmp_dir,
                data_root,
                name='tiny',
                sync=False,
                max_epochs=1,
                batch_size=2,
                custom_imports=True,
                norm='BN',
                max_keep_ckpts=-1,
                probe=True,
                extra=''):
    """Write a tiny Mask R-CNN config inheriting the project's digits demo config.

    Returns:
        str: Path of the config file.
    """
    with open(osp.join(tmp_dir, 'ba2m_probe.py'), 'w') as f:
        f.write(PROBE)
    imports = (['ba2m_mm'] if custom_imports else []) + (['ba2m_probe'] if probe else [])
    imports = f'custom_imports = dict(imports={imports!r}, allow_failed_imports=False)'
    hooks = "[dict(type='BA2MProbeHook')]" if probe else '[]'
    text = f'''
        _base_ = {DEMO_CONFIG!r}
        {imports}
        data_root = {str(data_root) + '/'!r}
        model = dict(
            backbone=dict(
                base_channels=8,
                norm_cfg=dict(type={norm!r}, requires_grad=True),
                ba2m_stages=(False, True, True, True),
                ba2m_cfg=dict(reduction=4, normalize='softmax', sync={sync})),
            neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
            rpn_head=dict(in_channels=16, feat_channels=16),
            roi_head=dict(
                bbox_roi_extractor=dict(out_channels=16),
                bbox_head=dict(in_channels=16, fc_out_channels=32),
                mask_roi_extractor=dict(out_channels=16),
                mask_head=dict(num_convs=1, in_channels=16, conv_out_channels=16)),
            train_cfg=dict(
                rpn=dict(sampler=dict(num=64)),
                rpn_proposal=dict(nms_pre=200, max_per_img=50),
                rcnn=dict(sampler=dict(num=32))),
            test_cfg=dict(rpn=dict(nms_pre=100, max_per_img=20)))
        pipeline_train = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='PackDetInputs')
        ]
        pipeline_test = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='PackDetInputs',
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
        ]
        train_dataloader = dict(
            batch_size={batch_size},
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(data_root=data_root, pipeline=pipeline_train))
        val_dataloader = None
        val_cfg = None
        val_evaluator = None
        test_dataloader = dict(
            batch_size=2,
            dataset=dict(data_root=data_root, pipeline=pipeline_test))
        test_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
        train_cfg = dict(max_epochs={max_epochs}, val_interval=1000)
        param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=1)]
        optim_wrapper = dict(optimizer=dict(lr=0.005))
        default_hooks = dict(
            logger=dict(interval=1),
            checkpoint=dict(interval=1, max_keep_ckpts={max_keep_ckpts}))
        custom_hooks = {hooks}
        log_processor = dict(window_size=1)
        '''
    path = osp.join(tmp_dir, f'{name}.py')
    with open(path, 'w') as f:
        f.write(textwrap.dedent(text) + textwrap.dedent(extra))
    return path


def run_env(tmp_dir):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(tmp_dir), REPO, env.get('PYTHONPATH', '')])
    env['PYTHON'] = sys.executable
    env['PORT'] = str(free_port())
    env['OMP_NUM_THREADS'] = '1'
    return env


# The tests wait for events (a process exiting, a log line), never for a fixed time. This cap
# only stops a hung process; it is generous so that a machine busy with other jobs still
# passes (each run here takes well under a minute on an idle 2-core machine).
WAIT_CAP_S = float(os.environ.get('BA2M_TEST_WAIT_CAP_S', 1200))


def kill_process_group(proc):
    """SIGKILL ``proc`` and its children (torchrun workers, dataloader workers)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(cmd, tmp_dir, cap_s=WAIT_CAP_S):
    """Run ``cmd`` and wait for it to exit.

    Returns:
        subprocess.Popen: The finished process, with stdout+stderr in ``.out`` and the
        seconds it ran in ``.elapsed``.
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=run_env(tmp_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True)  # its own process group, killed as a whole
    try:
        proc.out, _ = proc.communicate(timeout=cap_s)
    except subprocess.TimeoutExpired:
        kill_process_group(proc)
        out, _ = proc.communicate()
        pytest.fail(f'waited {time.monotonic() - start:.0f} s (the cap, BA2M_TEST_WAIT_CAP_S='
                    f'{cap_s:g}) for {" ".join(map(str, cmd))} to exit; it was still '
                    f'running and was killed. Last output:\n{out[-3000:]}')
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C): leave no process behind
            kill_process_group(proc)
            proc.wait()
    proc.elapsed = time.monotonic() - start
    return proc


def wait_for_log_line(proc, log_path, pattern, cap_s=WAIT_CAP_S):
    """Wait until a line matching ``pattern`` appears in ``log_path``, written by ``proc``.

    Fails, saying what was awaited and for how long, when ``proc`` exits first or after
    ``cap_s`` seconds.

    Returns:
        float: The seconds waited.
    """
    start = time.monotonic()
    regex = re.compile(pattern)
    while True:
        text = log_path.read_text()
        waited = time.monotonic() - start
        if regex.search(text):
            return waited
        if proc.poll() is not None:
            pytest.fail(f'waited {waited:.0f} s for the log line /{pattern}/ in {log_path}, '
                        f'but the process exited first (return code {proc.returncode}). '
                        f'Last output:\n{text[-3000:]}')
        if waited > cap_s:
            pytest.fail(f'waited {waited:.0f} s (the cap, BA2M_TEST_WAIT_CAP_S={cap_s:g}) '
                        f'for the log line /{pattern}/ in {log_path}; the process is still '
                        f'running. Last output:\n{text[-3000:]}')
        time.sleep(0.2)  # poll interval, not a deadline


def train_cmd(config, work_dir, *args):
    return [sys.executable, osp.join(TOOLS, 'train.py'), config, '--work-dir', str(work_dir), *args]


def read_probe(work_dir, rank=0):
    with open(osp.join(work_dir, f'probe_rank{rank}.jsonl')) as f:
        return [json.loads(line) for line in f]


def ckpt_meta(path):
    from ba2m_mm.checkpoint import load_checkpoint_file  # the safe loader
    return load_checkpoint_file(str(path), map_location='cpu')['meta']


def ckpt_iter(path):
    return ckpt_meta(path)['iter']


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def build_digits(root):
    """The tiny digits set of these tests (NUM_TRAIN train, 2 val images) in ``root``."""
    from ba2m_mm.datasets import build_digits_coco
    build_digits_coco(
        str(root),
        num_train=NUM_TRAIN,
        num_val=2,
        image_size=64,
        digits_per_image=(1, 2),
        digit_size=(16, 28),
        progress=False)
    return root


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    return build_digits(tmp_path_factory.mktemp('digits'))


@pytest.fixture(scope='module')
def trained(digits, tmp_path_factory):
    """One epoch of single-process training; the config has no 'ba2m_mm' in
    custom_imports (tools/train.py imports it itself)."""
    tmp = tmp_path_factory.mktemp('trained')
    cfg = tiny_config(tmp, digits, custom_imports=False, max_epochs=1)
    work = tmp / 'work'
    proc = run(train_cmd(cfg, work), tmp)
    assert proc.returncode == 0, proc.out[-3000:]
    return tmp, cfg, work


def test_train_single_process_without_custom_imports(trained):
    _, _, work = trained
    iters_per_epoch = NUM_TRAIN // 2
    assert ckpt_iter(work / 'epoch_1.pth') == iters_per_epoch
    assert last_checkpoint(work) == str(work / 'epoch_1.pth')
    probe = read_probe(work)
    assert [r['iter'] for r in probe
            if r['name'] == 'backbone.ba2m2'] == list(range(iters_per_epoch))
    # sync=False, softmax: the weights of each local batch of 2 sum to 1.
    assert all(r['n'] == 2 and abs(r['local_sum'] - 1) < 1e-5 for r in probe)


def test_resume_auto_continues_from_last_checkpoint(trained, tmp_path):
    tmp, cfg, trained_work = trained
    work = tmp_path / 'work'
    shutil.copytree(trained_work, work)
    # last_checkpoint holds an absolute path: point it at the copy.
    with open(work / 'last_checkpoint', 'w') as f:
        f.write(str(work / 'epoch_1.pth'))
    proc = run(train_cmd(cfg, work, '--resume', '--cfg-options', 'train_cfg.max_epochs=2'), tmp)
    assert proc.returncode == 0, proc.out[-3000:]
    iters_per_epoch = NUM_TRAIN // 2
    assert f'resumed epoch: 1, iter: {iters_per_epoch}' in proc.out
    assert ckpt_iter(work / 'epoch_2.pth') == 2 * iters_per_epoch
    iters = [r['iter'] for r in read_probe(work) if r['name'] == 'backbone.ba2m2']
    assert iters == list(range(2 * iters_per_epoch))  # no iteration run twice or skipped


def test_dist_test_two_cpu_processes_with_out(trained, tmp_path):
    tmp, cfg, work = trained
    out_pkl = tmp_path / 'preds.pkl'
    proc = run(
        [
            'bash',
            osp.join(TOOLS, 'dist_test.sh'),
            cfg,
            str(work / 'epoch_1.pth'),
            '2',
            '--work-dir',
            str(tmp_path / 'test'),
            '--out',
            str(out_pkl),
            # one epoch on 8 images may score every box below the default 0.05: keep all
            # boxes so that CocoMetric has results to evaluate
            '--cfg-options',
            'model.test_cfg.rcnn.score_thr=0.0'
        ],
        tmp)
    assert proc.returncode == 0, proc.out[-4000:]
    assert 'rank 0 of 2' in proc.out
    # gloo's threads must not outlive the interpreter (SIGABRT at exit, seen before
    # tools/test.py destroyed its process group).
    assert 'terminate called' not in proc.out
    assert re.search(r'coco/bbox_mAP: -?[0-9.]+', proc.out), proc.out[-2000:]
    assert re.search(r'coco/segm_mAP: -?[0-9.]+', proc.out), proc.out[-2000:]
    with open(out_pkl, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 2  # one result per val image, gathered from both processes
    assert {'bboxes', 'scores', 'labels', 'masks'} <= set(preds[0]['pred_instances'])


def test_dist_train_two_cpu_processes_sync_uses_global_batch(digits, tmp_path):
    # SyncBN in the backbone: the CPU path reverts it to BN with a warning.
    cfg = tiny_config(tmp_path, digits, sync=True, max_epochs=1, norm='SyncBN')
    work = tmp_path / 'work'
    proc = run(['bash', osp.join(TOOLS, 'dist_train.sh'), cfg, '2', '--work-dir',
                str(work)], tmp_path)
    assert proc.returncode == 0, proc.out[-4000:]
    assert "process group initialised with backend='gloo'" in proc.out
    assert 'terminate called' not in proc.out
    assert 'SyncBatchNorm layers reverted to BatchNorm' in proc.out
    assert 'rank 0 of 2' in proc.out
    # 8 images, 2 processes x 2 images: 2 iterations per epoch.
    assert ckpt_meta(work / 'epoch_1.pth')['iter'] == NUM_TRAIN // 4
    rows = read_probe(work, 0) + read_probe(work, 1)
    assert {r['rank'] for r in rows} == {0, 1}
    assert len(rows) == 2 * 2 * 3  # 2 ranks x 2 iterations x 3 BA2M modules
    for r in rows:
        # Softmax over the global batch of 4: the 2 local weights sum to < 1,
        # the weights of both processes to 1.
        assert r['n'] == 2
        assert r['local_sum'] < 1 - 1e-4, r
        assert abs(r['global_sum'] - 1) < 1e-5, r


def test_upstream_runner_without_custom_imports_reports_registry_error(digits, tmp_path):
    """What mmdet's own tools/train.py says for a BA2M config without custom_imports
    (quoted in docs/troubleshooting.md); tools/train.py runs the same config."""
    cfg = tiny_config(tmp_path, digits, custom_imports=False)
    code = textwrap.dedent(f'''
        from mmengine.config import Config
        from mmengine.runner import Runner
        cfg = Config.fromfile({cfg!r})
        cfg.work_dir = {str(tmp_path / 'upstream')!r}
        Runner.from_cfg(cfg)
        ''')
    proc = run([sys.executable, '-c', code], tmp_path)
    assert proc.returncode != 0
    assert 'KeyError: \'BA2MResNet is not in the mmdet::model registry.' in proc.out, \
        proc.out[-3000:]


def test_waits_fail_saying_what_was_awaited_and_for_how_long(tmp_path):
    # A process that exits without writing the awaited line.
    log_path = tmp_path / 'short.log'
    with open(log_path, 'w') as log:
        proc = subprocess.Popen([sys.executable, '-c', 'print("epoch 1 done")'],
                                stdout=log,
                                stderr=subprocess.STDOUT)
    with pytest.raises(pytest.fail.Exception) as info:
        wait_for_log_line(proc, log_path, r'Epoch\(train\) \[2\]')
    msg = str(info.value)
    assert re.search(r'waited \d+ s for the log line /Epoch\\\(train\\\) \\\[2\\\]/', msg), msg
    assert 'the process exited first (return code 0)' in msg
    assert 'epoch 1 done' in msg
    # A process still running at the cap is killed, with its children.
    with pytest.raises(pytest.fail.Exception) as info:
        run([sys.executable, '-c', 'import time; time.sleep(600)'], tmp_path, cap_s=0.5)
    assert re.search(
        r'waited \d+ s \(the cap, BA2M_TEST_WAIT_CAP_S=0.5\) for .* to exit; it was '
        r'still running and was killed', str(info.value)), str(info.value)


def _threads():
    return len(os.listdir('/proc/self/task'))


def _teardown_worker(rank, port, out_dir):
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE='2',
        LOCAL_RANK=str(rank),
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port))
    import torch
    import torch.distributed as dist
    from mmengine.config import Config
    from mmengine.registry import MODEL_WRAPPERS

    from ba2m_mm.launch import setup_cpu_distributed, teardown_cpu_distributed
    before = _threads()
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='gloo'))))
    assert setup_cpu_distributed(cfg, 'pytorch')
    model = MODEL_WRAPPERS.build(dict(cfg.model_wrapper_cfg, module=torch.nn.Linear(2, 2)))
    holder = dict(model=model)
    holder['self'] = holder  # a reference cycle, as the Runner and its hooks form
    objects = [dict(metrics=1.0)] if rank == 0 else [None]
    dist.broadcast_object_list(objects)  # the last collective of a test run
    during = _threads()
    del model, holder
    destroyed = teardown_cpu_distributed()
    with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(dict(before=before, during=during, after=_threads(), destroyed=destroyed), f)


def test_teardown_stops_gloo_threads_held_by_the_ddp_wrapper(tmp_path):
    """The gloo worker threads end before the interpreter does (else: SIGABRT at exit)."""
    import torch.multiprocessing as mp
    mp.spawn(_teardown_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        with open(tmp_path / f'rank{rank}.json') as f:
            counts = json.load(f)
        assert counts['destroyed'], counts
        assert counts['during'] > counts['before'], counts  # gloo's worker threads
        assert counts['after'] == counts['before'], counts
