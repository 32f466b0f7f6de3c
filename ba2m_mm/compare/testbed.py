"""Arms of the CIFAR-10 testbed (``tools/compare.py --preset cifar10-testbed[-strength]``).

Four twins that differ only in the backbone (configs/resnet18_*cifar10_testbed.py): plain,
SE (the positive control), BA2M at a strength, and the random control matched to that BA2M
run's spread at every step and stage. A strength is the lr multiplier of BA2M's branch BN
(gamma, beta), the parameters through which BA2M leaves the identity.
"""
import os.path as osp
from typing import List

from .experiment import Arm

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs')
TESTBED = {
    name: osp.join(CONFIGS, f'resnet18_{prefix}cifar10_testbed.py')
    for name, prefix in (('plain', ''), ('se', 'se_'), ('ba2m', 'ba2m_'), ('random', 'random_'))
}
# The strengths of the validation study (lr multipliers of BA2M's branch BN)
STRENGTHS = (1, 10, 100)


def strength_options(strength: float) -> dict:
    """cfg-options of a BA2M (or random) testbed arm at ``strength``."""
    return {
        'optim_wrapper.paramwise_cfg.custom_keys': {
            f'ba2m{i}.bn.': dict(lr_mult=strength)
            for i in range(1, 5)
        }
    }


def ba2m_arms(strength: float, suffix: str = '') -> List[Arm]:
    """The BA2M arm at ``strength`` and its random control (which reads the BA2M
    run of the same seed, so it comes second)."""
    ba2m = f'ba2m{suffix}'
    return [
        Arm(ba2m, TESTBED['ba2m'], strength_options(strength), f'BA2M (strength {strength:g})'),
        Arm(f'random{suffix}', TESTBED['random'], {
            **strength_options(strength), 'custom_hooks.1.source': f'../{ba2m}_seed{{seed}}'
        }, f'random, spread of BA2M strength {strength:g}'),
    ]


def strength_study_arms(strengths=STRENGTHS) -> List[Arm]:
    """plain, SE, then BA2M and its matched random control at each strength."""
    arms = [Arm('plain', TESTBED['plain'], {}, 'plain'), Arm('se', TESTBED['se'], {}, 'SE')]
    for s in strengths:
        arms += ba2m_arms(s, f'_s{s:g}')
    return arms


def verdict_arms(strength: float) -> List[Arm]:
    """The final arms: plain, SE, BA2M at the chosen strength, its random control."""
    return [Arm('plain', TESTBED['plain'], {}, 'plain'), Arm('se', TESTBED['se'], {}, 'SE')] + \
        ba2m_arms(strength)


__all__ = ['TESTBED', 'STRENGTHS', 'strength_options', 'ba2m_arms', 'strength_study_arms',
           'verdict_arms']
