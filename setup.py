"""Packaging for ba2m_mm (``pip install -e .``, ``pip wheel .``, ``python setup.py sdist``).

The OpenMMLab stack itself (torch, mmcv built with ops, mmdet, mmpretrain) is installed by
``tools/install.sh`` / ``make install``; see docs/install.md for using your own environment.

Like mmdet and mmpretrain, the package carries its configs, tools and model index in
``ba2m_mm/.mim/`` (see :func:`add_mim_extension`), so that mmengine resolves
``_base_ = 'ba2m_mm::ba2m/<config>.py'`` and mim finds the configs, ``tools/train.py`` and
``model-index.yml`` of an installed ``ba2m_mm``.
"""
import os
import os.path as osp
import re
import shutil
import sys
import warnings
from pathlib import Path
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent

# Source in the repository -> destination inside ba2m_mm/.mim/. mmengine resolves
# 'package::dir/file.py' only with a folder in the path (its pattern is r'\w*::\w*/\w*'),
# so the flat configs/ of the repository is installed as configs/ba2m/:
# 'ba2m_mm::ba2m/mask_rcnn_r50_ba2m_2x_coco.py'. model-index.yml imports
# configs/ba2m/metafile.yml, the path of configs/metafile.yml inside .mim/.
MIM_CONFIG_FOLDER = 'ba2m'
MIM_FILES = {
    'configs': osp.join('configs', MIM_CONFIG_FOLDER),
    'tools': 'tools',
    'model-index.yml': 'model-index.yml',
}
COPY_IGNORE = shutil.ignore_patterns('__pycache__', '*.pyc', '*.pyo')


def get_version():
    text = (HERE / 'ba2m_mm' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


class BuildPyWithoutBytecode(build_py):
    """``build_py`` that leaves no byte code in ``build/lib``.

    setuptools reuses ``build/lib`` between builds and the wheel takes all of it, so byte
    code left there (an earlier build, a run that imported from it) would ship as
    ``__pycache__`` (issue 20). ``MANIFEST.in`` and :data:`COPY_IGNORE` keep it out of
    the sources.
    """

    def run(self):
        super().run()
        for root, dirs, files in os.walk(self.build_lib):
            if '__pycache__' in dirs:
                dirs.remove('__pycache__')
                shutil.rmtree(osp.join(root, '__pycache__'))
            for name in files:
                if name.endswith(('.pyc', '.pyo')):
                    os.remove(osp.join(root, name))


def add_mim_extension():
    """Add the files mim and mmengine need (configs, tools, model index) to the package.

    The files are symlinked to the originals for an editable install (``pip install -e .``,
    which runs ``editable_wheel``, or the legacy ``setup.py develop``), and copied for a
    wheel or an sdist (``bdist_wheel``, ``sdist``), as mmdet's and mmpretrain's setup.py
    do. Other commands (``egg_info``, ``dist_info``) leave ``ba2m_mm/.mim`` as it is.
    A source that is missing (building a wheel from an sdist, which carries only the
    copies) keeps the existing copy.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif 'sdist' in sys.argv or 'bdist_wheel' in sys.argv:
        mode = 'copy'
    else:
        return

    repo_path = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo_path, 'ba2m_mm', '.mim')
    for src, dst in MIM_FILES.items():
        src_path = osp.join(repo_path, src)
        tar_path = osp.join(mim_path, dst)
        if not osp.exists(src_path):
            continue
        if osp.islink(tar_path) or osp.isfile(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)
        os.makedirs(osp.dirname(tar_path), exist_ok=True)

        if mode == 'symlink':
            src_relpath = osp.relpath(src_path, osp.dirname(tar_path))
            try:
                os.symlink(src_relpath, tar_path)
                continue
            except OSError:
                # e.g. Windows without the symlink privilege: fall back to a copy.
                warnings.warn(f'Failed to create a symbolic link for {src_relpath}; '
                              f'copying it to {tar_path} instead')
        if osp.isfile(src_path):
            shutil.copyfile(src_path, tar_path)
        else:
            shutil.copytree(src_path, tar_path, ignore=COPY_IGNORE)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='ba2m_mm',
        version=get_version(),
        description='Batch Aware Attention Module (BA2M) for mmdet and mmpretrain',
        long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        packages=find_packages(include=['ba2m_mm', 'ba2m_mm.*']),
        # ba2m_mm/.mim/** (MANIFEST.in) goes into the wheel as package data.
        include_package_data=True,
        python_requires='>=3.9',
        install_requires=['mmengine>=0.10.7', 'torch>=2.0'],
        extras_require={
            'mmdet': ['mmdet>=3.3.0'],
            'mmpretrain': ['mmpretrain>=1.2.0'],
            'tools': ['scikit-learn', 'matplotlib', 'tqdm'],
        },
        cmdclass={'build_py': BuildPyWithoutBytecode},
        zip_safe=False)
