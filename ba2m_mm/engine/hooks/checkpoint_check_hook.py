"""Stop a test or a resume whose checkpoint does not fit the run, naming the file."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class CheckpointCheckHook(Hook):
    """Check every checkpoint the Runner loads before it goes into the model.

    mmengine's ``Runner.load_checkpoint`` logs tensors whose shape differs from the model's
    and keeps the model's initial values for them: right when fine-tuning from another
    model (``load_from``), but testing or resuming then runs a network other than the one
    trained, and a checkpoint without training state fails with a ``KeyError`` inside
    ``Runner.resume``. This hook raises
    :class:`~ba2m_mm.checkpoint.InvalidCheckpointError` instead, naming the file and the
    tensors or entries. ``tools/test.py`` adds it, and ``tools/train.py --resume`` with
    ``resume=True``.

    Args:
        resume (bool): Also require the training state (``meta.epoch``, ``meta.iter``,
            ``message_hub``). Defaults to False.
    """

    priority = 'VERY_HIGH'

    def __init__(self, resume: bool = False):
        self.resume = resume

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # here, not at the top: ``import ba2m_mm`` registers this hook without loading
        # the checkpoint package
        from ba2m_mm.checkpoint import (check_resumable, check_shapes, checkpoint_source,
                                        state_dict_of)
        name = checkpoint_source(checkpoint) or runner.cfg.get('load_from', None) or \
            'the loaded checkpoint'
        state_dict = state_dict_of(checkpoint, name)
        if self.resume:
            check_resumable(checkpoint, name)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # the keys as Runner.load_checkpoint revises them by default
        state_dict = {
            k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in state_dict.items()
        }
        check_shapes(state_dict, model, name)
