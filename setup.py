"""Packaging for ba2m_mm (pip install -e .).

The OpenMMLab stack itself (torch, mmcv built with ops, mmdet, mmpretrain) is installed by
``tools/install.sh`` / ``make install``; see README "Install" for using your own environment.
"""
import re
from pathlib import Path
from setuptools import find_packages, setup

HERE = Path(__file__).parent


def get_version():
    text = (HERE / 'ba2m_mm' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


setup(
    name='ba2m_mm',
    version=get_version(),
    description='Batch Aware Attention Module (BA2M) for mmdet and mmpretrain',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(include=['ba2m_mm', 'ba2m_mm.*']),
    python_requires='>=3.9',
    install_requires=['mmengine>=0.10.7', 'torch>=2.0'],
    extras_require={
        'mmdet': ['mmdet>=3.3.0'],
        'mmpretrain': ['mmpretrain>=1.2.0'],
        'tools': ['scikit-learn', 'matplotlib', 'tqdm'],
    },
    zip_safe=False,
)
