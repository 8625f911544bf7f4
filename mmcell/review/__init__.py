"""Review a smear run and learn from the review: the run's record and pictures, the review page,
the corrections saved from it, and the fine-tune that adapts a classifier to them."""
from .adaptation import (TRAIN_PARTS, adaptation_config, evaluate_crops,
                         finetune, fit_linear_head, iterations_for, last_stage_prefixes,
                         reestimate_batchnorm, score_predictions, stratified_split)
from .corrections import CorrectedCell, CorrectionsError, read_corrections, write_annotation_list
from .page import write_review_page
from .run import NOT_WHITE, UNIDENTIFIED, SmearRun, load_run

__all__ = [
    'NOT_WHITE', 'TRAIN_PARTS', 'UNIDENTIFIED', 'CorrectedCell', 'CorrectionsError', 'SmearRun',
    'adaptation_config', 'evaluate_crops', 'finetune', 'fit_linear_head',
    'iterations_for', 'last_stage_prefixes', 'load_run', 'read_corrections',
    'reestimate_batchnorm', 'score_predictions', 'stratified_split', 'write_annotation_list',
    'write_review_page'
]
