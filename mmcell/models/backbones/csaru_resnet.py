from typing import Sequence

from mmdet.models.backbones import ResNet
from mmdet.models.backbones.resnet import Bottleneck
from mmdet.registry import MODELS

ATTENTION_UNITS = {
    'channel': 'ChannelAttentionUnit',  # C-ARU
    'channel_spatial': 'ChannelSpatialAttentionUnit',  # CS-ARU
}


@MODELS.register_module()
class CSARUResNet(ResNet):
    """ResNet with attention residual units in its bottlenecks (Song et al., 2021).

    Every bottleneck of the chosen stages gets a C-ARU (channel attention) or CS-ARU (channel +
    spatial attention) after conv3 and its BN, before the residual addition, through mmdet's
    plugin mechanism. Everything else is mmdet's :class:`~mmdet.models.backbones.ResNet`, whose
    parameter names are kept, so ImageNet ResNet weights load into it.

    When the backbone is initialised from pretrained weights (``init_cfg=dict(type='Pretrained',
    ...)``), the units start with open gates (``gate_bias``): the network then computes almost
    what the pretrained ResNet does, and training starts from it instead of from features halved
    at every block. From scratch, the units use their default init.

    Args:
        depth (int): 50 or 101 (152 works too). Defaults to 50.
        attention (str): ``'channel'`` (C-ARU) or ``'channel_spatial'`` (CS-ARU).
            Defaults to ``'channel_spatial'``.
        attention_stages (Sequence[bool]): Per stage, whether its bottlenecks get units.
            Defaults to ``(True, True, True, True)``.
        ratio (int): Channel reduction of the units' MLP. Defaults to 16.
        gate_bias (float): Gate logit the units start with under pretrained init
            (sigmoid(3) = 0.95). Defaults to 3.0.
        **kwargs: Other arguments of mmdet's ResNet (``out_indices``, ``frozen_stages``,
            ``norm_eval``, ``init_cfg``, extra ``plugins``, ...).

    Example:
        >>> import torch
        >>> import mmcell  # registers CSARUResNet and the units in mmdet's MODELS
        >>> from mmdet.registry import MODELS
        >>> from mmengine.registry import DefaultScope
        >>> # mmdet's scope: the units are mmcv plugins, looked up through the default scope.
        >>> with DefaultScope.overwrite_default_scope('mmdet'):
        ...     model = MODELS.build(dict(type='CSARUResNet', depth=50, base_channels=8,
        ...                               out_indices=(0, 1, 2, 3)))
        >>> _ = model.eval()
        >>> type(model.layer1[0].cs_aru).__name__
        'ChannelSpatialAttentionUnit'
        >>> outputs = model(torch.rand(1, 3, 64, 64))
        >>> for i, out in enumerate(outputs):
        ...     print(f'outputs[{i}].shape = {out.shape}')
        outputs[0].shape = torch.Size([1, 32, 16, 16])
        outputs[1].shape = torch.Size([1, 64, 8, 8])
        outputs[2].shape = torch.Size([1, 128, 4, 4])
        outputs[3].shape = torch.Size([1, 256, 2, 2])
    """

    def __init__(self,
                 depth: int = 50,
                 attention: str = 'channel_spatial',
                 attention_stages: Sequence[bool] = (True, True, True, True),
                 ratio: int = 16,
                 gate_bias: float = 3.0,
                 **kwargs) -> None:
        if attention not in ATTENTION_UNITS:
            raise ValueError(f'attention must be one of {sorted(ATTENTION_UNITS)}, got '
                             f'{attention!r}')
        if depth not in self.arch_settings or self.arch_settings[depth][0] is not Bottleneck:
            raise ValueError(f'CSARUResNet needs a bottleneck ResNet (depth 50, 101 or 152), '
                             f'got depth {depth}')
        num_stages = kwargs.get('num_stages', 4)
        if len(attention_stages) != num_stages:
            raise ValueError(f'attention_stages needs one flag per stage ({num_stages}), got '
                             f'{attention_stages}')
        init_cfg = kwargs.get('init_cfg')
        pretrained = isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'
        unit = dict(type=ATTENTION_UNITS[attention], ratio=ratio,
                    gate_bias=gate_bias if pretrained else None)
        plugins = list(kwargs.pop('plugins', None) or [])
        plugins.append(dict(cfg=unit, stages=tuple(attention_stages), position='after_conv3'))
        super().__init__(depth=depth, plugins=plugins, **kwargs)
        self.attention = attention
