"""Where a pooled-feature classifier looked: class activation maps (Zhou et al., CVPR 2016).

For a model whose head is a linear layer on globally averaged features (``GlobalAveragePooling``
+ ``LinearClsHead``, as the EfficientNet-Lite classifiers), a class's logit is the average over
positions of ``fc.weight[class] . feature``: that product, position by position, is the map of
where the class's evidence lies. Exact for such models, one forward pass, no gradients.
"""
import numpy as np
import torch
import torch.nn.functional as F

from .figures import overlay_heatmap, pyplot, save_figure


def class_activation(classifier, img: np.ndarray) -> dict:
    """The class activation map of the predicted class on one image.

    Args:
        classifier (ImageClassificationInferencer): A classifier with a ``GlobalAveragePooling``
            neck and a head with a linear ``fc`` (see :class:`mmcell.apis.CellClassificationInferencer`).
        img (np.ndarray): BGR image.

    Returns:
        dict: ``activation``: (H, W) float array in [0, 1] in the image's pixels;
        ``pred_class`` and ``pred_score`` (softmax of the logits).

    Raises:
        TypeError: The model does not pool its features into a linear layer.
    """
    model = classifier.model
    neck = type(getattr(model, 'neck', None)).__name__
    if neck != 'GlobalAveragePooling' or not isinstance(getattr(model.head, 'fc', None),
                                                       torch.nn.Linear):
        raise TypeError(f'the classifier has a {neck} neck and a {type(model.head).__name__}: '
                        'a class activation map needs GlobalAveragePooling and a linear fc')
    with torch.no_grad():
        data = next(iter(classifier.preprocess([img], batch_size=1)))
        data = model.data_preprocessor(data, False)
        featmap = model.backbone(data['inputs'])[-1][0]  # (C, h, w)
        probs = model.head.fc(featmap.mean((1, 2))).softmax(0)
        label = int(probs.argmax())
        cam = torch.einsum('c,chw->hw', model.head.fc.weight[label], featmap)
    cam = F.interpolate(cam[None, None], size=img.shape[:2], mode='bilinear',
                        align_corners=False)[0, 0].numpy()
    cam = (cam - cam.min()) / max(float(np.ptp(cam)), 1e-12)
    return dict(activation=cam, pred_class=classifier.classes[label],
                pred_score=float(probs[label]))


def draw_class_activation(img: np.ndarray, view: dict, out_file: str, title: str = None) -> None:
    """Save the image and its class activation map side by side as one PNG.

    Args:
        img (np.ndarray): The BGR image :func:`class_activation` saw.
        view (dict): What :func:`class_activation` returned.
        out_file (str): PNG path.
        title (str, optional): Figure title. Defaults to the predicted class and its score.
    """
    rgb = img[..., ::-1]
    fig, axes = pyplot().subplots(1, 2, figsize=(7, 3.8), layout='constrained')
    axes[0].imshow(rgb)
    axes[0].set_title('image')
    axes[1].imshow(overlay_heatmap(rgb, view['activation']))
    axes[1].set_title('class activation map')
    for ax in axes:
        ax.axis('off')
    fig.suptitle(title or f"predicted {view['pred_class']} ({view['pred_score']:.2f})")
    save_figure(fig, out_file)
