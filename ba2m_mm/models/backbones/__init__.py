"""BA2M backbones, registered in mmdet's and/or mmpretrain's MODELS.

Each is named ``BA2M`` + the upstream class name, in the registry of the library that
class comes from: ``BA2MResNet`` and ``BA2MResNeXt`` in mmdet; ``BA2MResNet``,
``BA2MResNet_CIFAR``, ``BA2MResNeXt``, ``BA2MMobileNetV2``, ``BA2MShuffleNetV2``,
``BA2MDenseNet`` and ``BA2MEfficientNet`` in mmpretrain. All are built by one mechanism,
:class:`BA2MStagesMixin` (``ba2m_stages_mixin.py``).

Each side is imported only when that library is installed, so a user with only one of
them can still ``import ba2m_mm``; errors inside our own modules are not swallowed.
"""
import importlib.util

from .ba2m_stages_mixin import BA2MStagesMixin  # noqa: F401

__all__ = ['BA2MStagesMixin']

if importlib.util.find_spec('mmdet') is not None:
    from .mmdet_ba2m_resnet import BA2MResNet as MMDetBA2MResNet  # noqa: F401
    from .mmdet_ba2m_resnext import BA2MResNeXt as MMDetBA2MResNeXt  # noqa: F401
    __all__ += ['MMDetBA2MResNet', 'MMDetBA2MResNeXt']

if importlib.util.find_spec('mmpretrain') is not None:
    from .mmpretrain_ba2m_densenet import BA2MDenseNet  # noqa: F401
    from .mmpretrain_ba2m_efficientnet import BA2MEfficientNet  # noqa: F401
    from .mmpretrain_ba2m_mobilenet_v2 import BA2MMobileNetV2  # noqa: F401
    from .mmpretrain_ba2m_resnet import BA2MResNet as MMPretrainBA2MResNet  # noqa: F401
    from .mmpretrain_ba2m_resnet import BA2MResNet_CIFAR  # noqa: F401
    from .mmpretrain_ba2m_resnext import BA2MResNeXt as MMPretrainBA2MResNeXt  # noqa: F401
    from .mmpretrain_ba2m_shufflenet_v2 import BA2MShuffleNetV2  # noqa: F401
    __all__ += [
        'MMPretrainBA2MResNet', 'BA2MResNet_CIFAR', 'MMPretrainBA2MResNeXt', 'BA2MMobileNetV2',
        'BA2MShuffleNetV2', 'BA2MDenseNet', 'BA2MEfficientNet'
    ]
