# Does training on more labs help on a lab the detector has never seen?
# faster_rcnn_lite0_fpn_bccd-txl.py with TXL-PBC's Raabin-WBC images left out of training (sources PBC, BCCD and Kaggle BCD
# only), the same iterations and schedule; tested on every TXL-PBC source with
# faster_rcnn_lite0_fpn_bccd_test-txl.py, where Raabin-WBC is then another lab's images, as every
# source is for the BCCD-only detector.
_base_ = ['./faster_rcnn_lite0_fpn_bccd-txl.py']
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

train_dataloader = dict(dataset=dict(datasets=[
    _base_.train_dataloader.dataset.datasets[0],
    dict(_base_.train_dataloader.dataset.datasets[1], sources=('pbc', 'bccd', 'bcd')),
]))
