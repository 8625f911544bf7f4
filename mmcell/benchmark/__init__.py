"""The benchmark of ``tools/analysis_tools/benchmark.py``: mmcell's models against their peers.

=========  ======================================================================
module     its job
=========  ======================================================================
models     the models compared, and how each is built (:func:`mmcell.apis.build_model`)
worker     measuring one model in one process: time, memory, MACs, training step
report     the tables, the performance goals, what this CPU is
smear_run  the whole smear run (``tools/infer.py``) timed once per detector
=========  ======================================================================

The driver (one worker process per model, the scaling sweep) is the tool itself. None of these
modules imports mmcell's models, mmpretrain or mmdet at module level: the Hugging Face CvT-13
worker runs beside transformers, where mmpretrain cannot be imported.
"""
from . import models, report, smear_run, worker

__all__ = ['models', 'report', 'smear_run', 'worker']
