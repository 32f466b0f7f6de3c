"""Arms of the CIFAR-10 testbed (``tools/compare.py --preset cifar10-testbed[-strength]``).

Twins that differ only in the backbone (configs/resnet18_*cifar10_testbed.py): plain,
SE and the identity-start SE (the positive controls), BA2M at a strength, and the random
control matched to that BA2M run's spread at every step and stage. A strength sets how
fast SGD moves BA2M's branch BN (gamma, beta), the parameters through which BA2M leaves
the identity, as BA2M's ``strength`` argument.
"""
import os.path as osp
from typing import Dict, List, Optional

from .experiment import Arm

# The strengths of the validation study (BA2M's ``strength``: SGD moves its branch BN
# strength^2 times as fast)
STRENGTHS = (0.3, 1, 3, 10)


def testbed_configs(configs: Optional[str] = None) -> Dict[str, str]:
    """Config of each twin (plain, se, ba2m, random) in the folder ``configs``
    (default: :func:`~.presets.config_dir`)."""
    if configs is None:
        from .presets import config_dir
        configs = config_dir()
    return {
        name: osp.join(configs, f'resnet18_{prefix}cifar10_testbed.py')
        for name, prefix in (('plain', ''), ('se', 'se_'), ('se_identity', 'se_identity_'),
                             ('ba2m', 'ba2m_'), ('random', 'random_'))
    }


def shipped_strength(configs: Optional[str] = None) -> float:
    """``ba2m_strength`` of the BA2M testbed config (the one chosen on val)."""
    from mmengine.config import Config
    return Config.fromfile(testbed_configs(configs)['ba2m']).ba2m_strength


def strength_options(strength: float) -> dict:
    """cfg-options of a BA2M (or random) testbed arm at ``strength``."""
    return {'model.backbone.ba2m_cfg.strength': strength}


def ba2m_arms(strength: float, suffix: str = '', configs: Optional[str] = None) -> List[Arm]:
    """The BA2M arm at ``strength`` and its random control (which reads the BA2M
    run of the same seed, so it comes second)."""
    testbed = testbed_configs(configs)
    ba2m = f'ba2m{suffix}'
    return [
        Arm(ba2m, testbed['ba2m'], strength_options(strength), f'BA2M (strength {strength:g})'),
        Arm(f'random{suffix}', testbed['random'], {
            **strength_options(strength), 'custom_hooks.1.source': f'../{ba2m}_seed{{seed}}'
        }, f'random, spread of BA2M strength {strength:g}'),
    ]


def control_arms(configs: Optional[str] = None) -> List[Arm]:
    """The plain twin and the positive control (SE)."""
    testbed = testbed_configs(configs)
    return [Arm('plain', testbed['plain'], {}, 'plain'), Arm('se', testbed['se'], {}, 'SE')]


def se_control_arms(configs: Optional[str] = None) -> List[Arm]:
    """The plain twin, SE and the identity-start SE (``identity_start=True``: the gate
    starts at exactly 1, as BA2M does; SE's starts at 0.5)."""
    testbed = testbed_configs(configs)
    return control_arms(configs) + [
        Arm('se_identity', testbed['se_identity'], {}, 'SE, identity start')
    ]


def strength_study_arms(strengths=STRENGTHS, configs: Optional[str] = None) -> List[Arm]:
    """plain, SE, then BA2M and its matched random control at each strength."""
    arms = control_arms(configs)
    for s in strengths:
        arms += ba2m_arms(s, f'_s{s:g}', configs)
    return arms


def verdict_arms(strength: Optional[float] = None, configs: Optional[str] = None) -> List[Arm]:
    """The final arms: plain, SE, BA2M at ``strength`` (default: the BA2M
    config's, chosen on val) and its random control."""
    if strength is None:
        strength = shipped_strength(configs)
    return control_arms(configs) + ba2m_arms(strength, '', configs)


__all__ = [
    'STRENGTHS', 'testbed_configs', 'shipped_strength', 'strength_options', 'ba2m_arms',
    'control_arms', 'se_control_arms', 'strength_study_arms', 'verdict_arms'
]
