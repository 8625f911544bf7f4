from .thresholded_contrastive_loss import ThresholdedContrastiveLoss

__all__ = ['ThresholdedContrastiveLoss']
