"""Detection on whole smear fields, tile by tile."""
import numpy as np
import torch
from mmengine.structures import InstanceData

from mmcell.structures.tiling import merge_tile_detections, tile_windows


def inference_detector_tiled(model, img, tile_size=(375, 500), overlap=0.3, iou_thr=0.5):
    """Detect cells on an image of any size by running ``model`` on overlapping tiles.

    Tiles as in training (:func:`~mmcell.structures.tiling.tile_windows`), detections mapped back
    and merged (:func:`~mmcell.structures.tiling.merge_tile_detections`: detections touching an
    inner tile border dropped, class-wise NMS), so each cell is reported once.

    Args:
        model (nn.Module | Callable): An mmdet detector (from ``mmdet.apis.init_detector``), or
            any callable mapping a BGR tile to ``(boxes, scores, labels)``.
        img (np.ndarray | str): BGR image or its path.
        tile_size (tuple[int, int]): Tile (height, width). Defaults to (375, 500), the
            paper's patches.
        overlap (float): Defaults to 0.3, the paper's.
        iou_thr (float): NMS IoU across tiles. Defaults to 0.5.

    Returns:
        InstanceData: ``bboxes`` (N, 4), ``scores``, ``labels`` in image pixels.
    """
    if isinstance(img, str):
        import mmcv
        img = mmcv.imread(img)
    detect = model if not isinstance(model, torch.nn.Module) else _mmdet_detect(model)
    h, w = img.shape[:2]
    results = [(window, *detect(img[window[1]:window[3], window[0]:window[2]]))
               for window in tile_windows(h, w, tile_size, overlap)]
    boxes, scores, labels = merge_tile_detections(results, iou_thr, image_size=(h, w))
    return InstanceData(bboxes=torch.from_numpy(boxes), scores=torch.from_numpy(scores),
                        labels=torch.from_numpy(labels))


def _mmdet_detect(model):
    from mmdet.apis import inference_detector

    def detect(tile):
        pred = inference_detector(model, np.ascontiguousarray(tile)).pred_instances
        return pred.bboxes.cpu().numpy(), pred.scores.cpu().numpy(), pred.labels.cpu().numpy()
    return detect
