"""``--out`` of tools/test.py: dump the predictions to a pickle file."""
from typing import Optional

from mmengine.config import Config


def add_dump_metric(cfg: Config, scope: Optional[str], out: str) -> None:
    """Append a metric that dumps the predictions to ``out``: mmdet's
    ``DumpDetResults`` for ``scope='mmdet'``, else mmengine's ``DumpResults``.

    Args:
        cfg (Config): The loaded config; ``test_evaluator`` is modified in place.
        scope (str, optional): The config's ``default_scope``.
        out (str): The ``.pkl`` or ``.pickle`` file to write.

    Raises:
        ValueError: If ``out`` has another extension.
    """
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out={out!r}: the dump file must be a .pkl or .pickle file.')
    dump = dict(type='DumpDetResults' if scope == 'mmdet' else 'DumpResults', out_file_path=out)
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, (list, tuple)):
        cfg.test_evaluator = list(evaluator) + [dump]
    elif isinstance(evaluator, dict) and 'metrics' in evaluator:
        metrics = evaluator['metrics']
        metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        evaluator['metrics'] = metrics + [dump]
    else:
        cfg.test_evaluator = [evaluator, dump]
