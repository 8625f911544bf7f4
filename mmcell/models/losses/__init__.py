from .thresholded_contrastive_loss import ThresholdedContrastiveLoss, contrastive_targets

__all__ = ['ThresholdedContrastiveLoss', 'contrastive_targets']
