from .config import (MOVED_CONFIGS, config_scope, enable_amp, load_classifier_config,
                     load_config, set_work_dir)
from .progress import track

__all__ = [
    'MOVED_CONFIGS', 'config_scope', 'enable_amp', 'load_classifier_config', 'load_config',
    'set_work_dir', 'track'
]
