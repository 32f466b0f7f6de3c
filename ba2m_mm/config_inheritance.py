"""``ba2m_mm::`` config inheritance: ``_base_ = 'ba2m_mm::ba2m/<config>.py'``.

The installed package carries the configs in ``ba2m_mm/.mim/configs/ba2m/`` (see
``setup.py``), where mmengine looks for ``package::dir/file.py``. mmengine 0.10.7 and
0.11.0rc3 accept ``package::`` only for the packages listed in
``mmengine.config.utils.MODULE2PACKAGE`` (the OpenMMLab libraries) and refuse every other
one with ``AssertionError: mmengine does not support to load ba2m_mm config.``
(open-mmlab/mmengine#1410). :func:`register_config_package` adds ``ba2m_mm`` to that
table; ``import ba2m_mm`` calls it. So a process must import ``ba2m_mm`` before it loads a
config that inherits ``ba2m_mm::`` (mmengine reads ``_base_`` before ``custom_imports``):
our ``tools/train.py`` and ``tools/test.py`` (also run by ``mim train ba2m_mm``) do.

mmengine also tags each dict with a ``type`` that a ``ba2m_mm::`` base defines itself (not
inherited from ``mmdet::``/``mmpretrain::``) with ``_scope_='ba2m_mm'``. ba2m_mm has no
registry of its own, so building such a dict logs a warning and uses the registry in use.
Our model configs define none (``tests/test_packaging.py`` checks it); the demo configs do
(their pipelines and schedulers).
"""
from mmengine.config.utils import MODULE2PACKAGE

PACKAGE = 'ba2m_mm'


def register_config_package(module: str = PACKAGE, package: str = PACKAGE) -> None:
    """Let ``mmengine.Config`` resolve ``<module>::dir/file.py`` (idempotent).

    Args:
        module (str): The name before ``::`` (the import name). Defaults to ``'ba2m_mm'``.
        package (str): The distribution that carries ``<module>/.mim/configs``.
            Defaults to ``'ba2m_mm'``.
    """
    MODULE2PACKAGE.setdefault(module, package)
