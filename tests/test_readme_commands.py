"""Every code block of the README runs as written: the config snippets build, the make
targets exist and name what they run, the wheel command names the package's version."""
import os.path as osp
import re
import subprocess

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def blocks(lang):
    text = open(osp.join(REPO, 'README.md')).read()
    return [m.group(1) for m in re.finditer(rf'```{lang}\n(.*?)```', text, re.S)]


def commands():
    lines = [line.split('#')[0].strip() for block in blocks('bash') for line in block.splitlines()]
    return [line for line in lines if line]


def test_readme_has_the_blocks_this_test_knows():
    assert len(blocks('python')) == 2
    assert sorted({c.split()[0] for c in commands()}) == ['make', 'pip']


@pytest.mark.parametrize('command', [c for c in commands() if c.startswith('make ')])
def test_make_commands_exist(command):
    """``make -n``: the target exists and what it would run (no install, no training)."""
    out = subprocess.run(
        ['make', '-n'] + command.split()[1:], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    expected = {
        'demo': 'tools/demo.py',
        'test': '-m pytest tests',
        'lint': '-m flake8',
        'format': '-m yapf'
    }[command.split()[1]]
    assert expected in out.stdout


def test_ci_command_runs_lint_and_test():
    contributing = open(osp.join(REPO, 'docs', 'contributing.md')).read()
    assert 'bash .ci/run' in contributing and 'make lint' in contributing
    ci = open(osp.join(REPO, '.ci', 'run')).read()
    assert 'make lint' in ci and 'make test' in ci


def test_wheel_commands_name_this_version():
    import ba2m_mm
    wheel = [c for c in commands() if c.startswith('pip install --no-deps dist/')]
    assert wheel == [f'pip install --no-deps dist/ba2m_mm-{ba2m_mm.__version__}-py3-none-any.whl']


def test_config_snippet_builds_a_ba2m_backbone():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    cfg = Config.fromstring(blocks('python')[0], '.py')
    assert cfg.custom_imports.imports == ['ba2m_mm']
    backbone = MODELS.build(cfg.model.backbone)
    assert type(backbone).__name__ == 'BA2MResNet'
    assert [m.in_channels for m in backbone.ba2m_modules()] == [256, 512, 1024, 2048]


def test_other_project_snippet_inherits_our_config(tmp_path):
    from mmengine.config import Config

    import ba2m_mm  # noqa: F401  resolves ba2m_mm::
    path = tmp_path / 'my_mask_rcnn.py'
    path.write_text(blocks('python')[1].replace("'my_project.models'", "'mmdet.models'"))
    cfg = Config.fromfile(str(path))
    assert cfg.model.backbone.type == 'BA2MResNet'
    assert cfg.model.roi_head.bbox_head.num_classes == 3
