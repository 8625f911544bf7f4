# RoIPool instead of RoIAlign (paper Table 6 compares them); otherwise c_arfpn_r50_bccd.py.
# mmcell's TorchRoIPool (through TorchRoIExtractor): mmcv's RoIPool has no CPU kernel.
_base_ = './c_arfpn_r50_bccd.py'

model = dict(roi_head=dict(bbox_roi_extractor=dict(
    type='TorchRoIExtractor',
    roi_layer=dict(_delete_=True, type='TorchRoIPool', output_size=7))))
