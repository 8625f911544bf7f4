# Entry point kept at the top of configs/ (users were promised this path): CS-ARFPN R50 on BCCD.
# The config itself is configs/cs_arfpn/cs_arfpn_r50_bccd.py; this file only inherits it, and
# tools/train.py names the work dir after the file name, so both give work_dirs/cs_arfpn_r50_bccd.
# The other detection configs: configs/cs_arfpn/README.md.
_base_ = ['./cs_arfpn/cs_arfpn_r50_bccd.py']
