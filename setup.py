"""mmcell: blood-cell image recognition components for mmpretrain and mmdet.

The exact, tested stack is pinned in ``requirements/stack.txt`` and installed by
``tools/setup_env.sh``; here we only state the ranges mmcell works with.
"""
from pathlib import Path

from setuptools import find_packages, setup


def read_version():
    namespace = {}
    exec(Path(__file__).with_name('mmcell').joinpath('version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='mmcell',
    version=read_version(),
    description='OpenMMLab plugin for blood-cell classification (CellViT) and '
    'red-cell detection (CS-ARFPN)',
    long_description=Path(__file__).with_name('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['mmcell', 'mmcell.*']),
    install_requires=[
        'torch>=2.0',
        'mmengine>=0.10.4,<0.11',
        'mmcv>=2.0.0,<2.2.0',  # mmdet 3.3 refuses mmcv >= 2.2
        'mmdet>=3.3.0,<3.4',
        'mmpretrain>=1.2.0,<1.3',
        'opencv-python',
        'pytorch-ood>=0.4,<0.5',  # trust scores (mmcell.uncertainty)
        'scikit-image>=0.22',  # colour conversions of the stain transforms
        'scipy',
        'safetensors',
        'setuptools<82',  # mmengine resolves `mmpretrain::` bases through pkg_resources
    ],
    extras_require={'tests': ['pytest', 'hypothesis']},
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Image Recognition',
        'Topic :: Scientific/Engineering :: Medical Science Apps.',
    ],
    zip_safe=False,
)
