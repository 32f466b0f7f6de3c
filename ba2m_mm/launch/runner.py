"""Build the mmengine Runner a config asks for."""
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner


def build_runner(cfg: Config) -> Runner:
    """``Runner.from_cfg(cfg)``, or the config's ``runner_type`` from ``RUNNERS``,
    as mmdet's tools do.

    Args:
        cfg (Config): The prepared config.

    Returns:
        Runner: The runner.
    """
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
