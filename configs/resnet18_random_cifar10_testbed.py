# The random-reweighting control of the BA2M testbed twin (resnet18_ba2m_cifar10_testbed.py):
# the same backbone and modules, but each batch is reweighted by w = N softmax(sigma eps),
# eps ~ N(0, 1) per image (RandomBA2M), with sigma set before every step to the spread of
# the BA2M run's SARs (std of its log-weights) at that step and stage (MatchedSpreadHook).
# It therefore needs the BA2M run of the same seed first; tools/compare.py runs the arms of a
# seed in order, with work dirs <out_dir>/<arm>_seed<seed>, so `source` names the BA2M arm's
# (override it with --cfg-options custom_hooks.1.source=...).
_base_ = './resnet18_ba2m_cifar10_testbed.py'

model = dict(backbone=dict(ba2m_cfg=dict(type='RandomBA2M', sigma=0.0)))
custom_hooks = [
    dict(type='ChannelsLastHook'),
    dict(type='MatchedSpreadHook', source='../ba2m_seed{seed}'),
]
