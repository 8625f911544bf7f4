"""Review a smear run and learn from the review: the run's record and pictures, the review page,
the corrections saved from it, and the fine-tune that adapts a classifier to them."""
from .adaptation import (LEARNING_RATES, SCHEDULE, TRAIN_PARTS, adaptation_config,
                         evaluate_crops, finetune, fit_linear_head, frozen_stages_for,
                         held_class_summary, iterations_for, reestimate_batchnorm)
from .corrections import CorrectedCell, CorrectionsError, read_corrections, write_annotation_list
from .page import write_review_page
from .run import NOT_WHITE, UNIDENTIFIED, SmearRun, load_run

__all__ = [
    'LEARNING_RATES', 'NOT_WHITE', 'SCHEDULE', 'TRAIN_PARTS', 'UNIDENTIFIED', 'CorrectedCell',
    'CorrectionsError', 'SmearRun', 'adaptation_config', 'evaluate_crops', 'finetune',
    'fit_linear_head', 'frozen_stages_for', 'held_class_summary', 'iterations_for', 'load_run',
    'read_corrections', 'reestimate_batchnorm', 'write_annotation_list', 'write_review_page'
]
