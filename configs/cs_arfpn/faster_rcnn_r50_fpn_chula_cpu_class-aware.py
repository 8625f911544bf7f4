# faster_rcnn_r50_fpn_chula_cpu.py drawing its training fields class-aware (mmdet's
# ClassAwareSampler): each draw takes the next class in a shuffled cycle, then a field holding
# it, so fields with rare cells (76 teardrops and 54 uncategorised cells against 2,296 normal
# cells in the training split) come up as often as the rest. Same epoch length and schedule.
_base_ = ['./faster_rcnn_r50_fpn_chula_cpu.py']

train_dataloader = dict(sampler=dict(_delete_=True, type='ClassAwareSampler', num_sample_class=1))
