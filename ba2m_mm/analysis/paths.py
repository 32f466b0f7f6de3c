"""Where the analysis finds the repository's configs and the upstream ones."""
import os.path as osp

from mmengine.config import Config
from mmengine.utils import get_installed_path

# The repository root in a source checkout (``pip install -e .``).
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# configs/ of the repository; in an installed wheel the package's .mim/configs/ba2m/
# (setup.py installs configs/ there).
CONFIG_DIR = osp.join(REPO, 'configs')
if not osp.exists(osp.join(CONFIG_DIR, 'mask_rcnn_r50_ba2m_2x_coco.py')):
    CONFIG_DIR = osp.join(
        osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim', 'configs', 'ba2m')


def mim_config(package: str, path: str) -> Config:
    """Load a config shipped in ``<package>/.mim/configs``.

    Args:
        package (str): An OpenMMLab package, e.g. ``'mmdet'``.
        path (str): The config's path inside the package's ``configs/``.

    Returns:
        Config: The loaded config.
    """
    return Config.fromfile(osp.join(get_installed_path(package), '.mim', 'configs', path))
