# C-ARFPN with ResNet-101 (33 bottlenecks with C-ARU; paper Table 3); otherwise c_arfpn_r50_bccd.py.
_base_ = './c_arfpn_r50_bccd.py'

model = dict(backbone=dict(depth=101))
