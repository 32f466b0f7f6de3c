"""CheckpointHook whose writes survive a crash at any instant."""
import glob
import inspect
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

TMP_SUFFIX = '.tmp'


def _fsync_path(path: str) -> None:
    """Flush a file's (or a directory entry's) data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new text,
    never a truncated file: temp file in the same directory, fsync,
    ``os.replace``, fsync of the directory.

    Args:
        path (str): Destination file.
        text (str): Content.
    """
    tmp = path + TMP_SUFFIX
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_path(osp.dirname(osp.abspath(path)))


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` with crash-safe writes.

    mmengine 0.11's hook (a) deletes the oldest checkpoint (``max_keep_ckpts``)
    *before* writing the new one, (b) writes the checkpoint bytes straight to
    the final path and (c) rewrites ``last_checkpoint`` in place. A crash
    (SIGKILL, node preemption, full disk) inside (a)-(b) can leave
    ``last_checkpoint`` naming a deleted file, and one inside (c) an empty
    ``last_checkpoint``; ``--resume`` then fails.

    This hook writes every checkpoint to ``<name>.tmp`` in the same directory,
    fsyncs it and renames it over ``<name>`` (``os.replace`` is atomic on
    POSIX), then updates ``last_checkpoint`` the same way, and only then
    deletes checkpoints beyond ``max_keep_ckpts``. At every instant
    ``last_checkpoint`` names a complete file. Leftover ``.tmp`` files of a
    crashed write are removed at the start of the next run.

    It also leaves out of the saved scheduler states the functions some
    mmengine schedulers keep (``OneCycleParamScheduler.anneal_func``): pickled,
    they make the checkpoint unloadable by the safe loader
    (:mod:`ba2m_mm.checkpoint.safe_load`), and the scheduler rebuilds them when
    it is built for ``--resume``.

    Takes the same arguments as :class:`~mmengine.hooks.CheckpointHook`.
    Non-local storage backends (``backend_args`` pointing to e.g. petrel) fall
    back to the parent's behaviour. Best checkpoints (``save_best``) are
    written by the parent's code path.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not (is_main_process() and isinstance(self.file_backend, LocalBackend)):
            return
        pattern = osp.join(self.out_dir, self.filename_tmpl.format('*') + TMP_SUFFIX)
        for stale in sorted(glob.glob(pattern)):
            os.remove(stale)
            runner.logger.warning(f'Removed {stale}, an unfinished checkpoint write of an '
                                  'interrupted run.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('param_schedulers', [])
        if isinstance(states, dict):  # one list per optimizer
            states = [s for group in states.values() for s in group]
        for state in states:
            for key in [k for k, v in state.items() if inspect.isroutine(v)]:
                del state[key]  # e.g. OneCycleParamScheduler.anneal_func

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)

        # Same bookkeeping as the parent, but old files are deleted at the end.
        expired = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                expired.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        runner.save_checkpoint(  # writes on the main process only
            self.out_dir,
            ckpt_filename + TMP_SUFFIX,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return

        tmp_path = self.last_ckpt + TMP_SUFFIX
        if osp.isfile(tmp_path):
            _fsync_path(tmp_path)
        os.replace(tmp_path, self.last_ckpt)
        _fsync_path(self.out_dir)
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)

        for old_step in expired:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)
