# CS-ARFPN with ResNet-101 (33 bottlenecks with CS-ARU; paper Table 3); otherwise
# cs_arfpn_r50_bccd.py.
_base_ = './cs_arfpn_r50_bccd.py'

model = dict(backbone=dict(depth=101))
