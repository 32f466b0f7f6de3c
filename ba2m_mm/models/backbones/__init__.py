"""BA2MResNet backbones, registered in mmdet's and/or mmpretrain's MODELS.

Each side is imported only when that library is installed, so a user with only one of
them can still ``import ba2m_mm``; errors inside our own modules are not swallowed.
"""
import importlib.util

__all__ = []

if importlib.util.find_spec('mmdet') is not None:
    from .mmdet_ba2m_resnet import BA2MResNet as MMDetBA2MResNet  # noqa: F401
    __all__.append('MMDetBA2MResNet')

if importlib.util.find_spec('mmpretrain') is not None:
    from .mmpretrain_ba2m_resnet import BA2MResNet as MMPretrainBA2MResNet  # noqa: F401
    from .mmpretrain_ba2m_resnet import BA2MResNet_CIFAR  # noqa: F401
    __all__ += ['MMPretrainBA2MResNet', 'BA2MResNet_CIFAR']
