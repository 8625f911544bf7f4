"""Attention residual units of Song et al. (2021) as mmcv plugin layers.

Both rescale a feature map and keep its shape, so they slot into mmdet's ResNet bottleneck as
``plugins=[dict(cfg=dict(type=...), position='after_conv3')]``: after conv3 and its BN, before the
residual addition. They are registered in mmdet's ``MODELS``, where ``mmcv.cnn.build_plugin_layer``
looks them up under ``default_scope='mmdet'``.
"""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.model import BaseModule


def _reduced(in_channels: int, ratio: int) -> int:
    if in_channels < 1 or ratio < 1:
        raise ValueError(f'in_channels and ratio must be positive, got {in_channels}, {ratio}')
    return max(1, in_channels // ratio)


def _open_gate(conv: nn.Conv2d, bias: float) -> None:
    nn.init.zeros_(conv.weight)
    nn.init.constant_(conv.bias, bias)


@MODELS.register_module()
class ChannelAttentionUnit(BaseModule):
    """C-ARU: squeeze-and-excitation channel attention.

    Global average pooling, FC (``in_channels -> in_channels // ratio``), ReLU, FC back, sigmoid;
    the input is rescaled channel by channel.

    Args:
        in_channels (int): Channels of the input (given by ``build_plugin_layer``).
        ratio (int): Channel reduction of the bottleneck MLP. Defaults to 16.
        gate_bias (float, optional): If given, the layer that produces the gate logits starts
            with zero weights and this bias, so every weight starts at sigmoid(gate_bias)
            whatever the input: close to the identity for a large bias, which is what a unit
            inserted into a pretrained network needs. Defaults to None (no special init).
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None
            (PyTorch's defaults for the FC layers).

    Example:
        >>> import torch
        >>> import mmcell  # registers the units in mmdet's MODELS
        >>> from mmdet.registry import MODELS
        >>> unit = MODELS.build(dict(type='ChannelAttentionUnit', in_channels=32, ratio=4))
        >>> x = torch.rand(2, 32, 8, 8)
        >>> unit(x).shape  # same shape, rescaled per channel
        torch.Size([2, 32, 8, 8])
        >>> unit.channel_weights(x).shape
        torch.Size([2, 32, 1, 1])
        >>> # With gate_bias, the gates start open whatever the input: sigmoid(3) = 0.95.
        >>> unit = MODELS.build(dict(type='ChannelAttentionUnit', in_channels=32, gate_bias=3.0))
        >>> unit.init_weights()
        >>> unit.channel_weights(x).detach().unique()
        tensor([0.9526])
        >>> # As a bottleneck plugin: mmcv's build_plugin_layer looks it up in mmdet's scope.
        >>> from mmcv.cnn import build_plugin_layer
        >>> from mmengine.registry import DefaultScope
        >>> with DefaultScope.overwrite_default_scope('mmdet'):
        ...     name, layer = build_plugin_layer(dict(type='ChannelAttentionUnit'), in_channels=64)
        >>> name, layer.fc[0].out_channels
        ('c_aru', 4)
    """

    _abbr_ = 'c_aru'

    def __init__(self,
                 in_channels: int,
                 ratio: int = 16,
                 gate_bias: Optional[float] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg)
        self.gate_bias = gate_bias
        hidden = _reduced(in_channels, ratio)
        self.fc = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, in_channels, 1))

    def init_weights(self) -> None:
        super().init_weights()
        if self.gate_bias is not None:
            _open_gate(self.fc[-1], self.gate_bias)

    def channel_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Per-channel weights in (0, 1), shape (N, C, 1, 1)."""
        return self.fc(x.mean(dim=(2, 3), keepdim=True)).sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rescale ``x`` (N, C, H, W) by its channel weights; same shape."""
        return x * self.channel_weights(x)


@MODELS.register_module()
class ChannelSpatialAttentionUnit(BaseModule):
    """CS-ARU: channel then spatial attention (CBAM style).

    Channel attention: the average- and max-pooled descriptors go through one shared MLP and are
    summed before the sigmoid. Spatial attention: the channel-wise mean and max maps of the
    channel-weighted features go through a ``kernel_size`` x ``kernel_size`` conv and a sigmoid.

    Args:
        in_channels (int): Channels of the input (given by ``build_plugin_layer``).
        ratio (int): Channel reduction of the shared MLP. Defaults to 16.
        kernel_size (int): Odd kernel size of the spatial attention conv. Defaults to 7.
        gate_bias (float, optional): If given, the channel and the spatial gates start at
            sigmoid(gate_bias) whatever the input (see :class:`ChannelAttentionUnit`).
            Defaults to None (no special init).
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.

    Example:
        >>> import torch
        >>> import mmcell  # registers the units in mmdet's MODELS
        >>> from mmdet.registry import MODELS
        >>> unit = MODELS.build(dict(type='ChannelSpatialAttentionUnit', in_channels=32,
        ...                          ratio=4, kernel_size=3))
        >>> x = torch.rand(2, 32, 8, 8)
        >>> unit(x).shape
        torch.Size([2, 32, 8, 8])
        >>> unit.channel_weights(x).shape, unit.spatial_weights(x).shape
        (torch.Size([2, 32, 1, 1]), torch.Size([2, 1, 8, 8]))
        >>> # With gate_bias both gates start at sigmoid(3): the unit scales by 0.95 ** 2.
        >>> unit = MODELS.build(dict(type='ChannelSpatialAttentionUnit', in_channels=32,
        ...                          gate_bias=3.0))
        >>> unit.init_weights()
        >>> torch.allclose(unit(x), x * torch.tensor(3.0).sigmoid() ** 2)
        True
    """

    _abbr_ = 'cs_aru'

    def __init__(self,
                 in_channels: int,
                 ratio: int = 16,
                 kernel_size: int = 7,
                 gate_bias: Optional[float] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg)
        self.gate_bias = gate_bias
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd to keep the map size, got {kernel_size}')
        hidden = _reduced(in_channels, ratio)
        self.mlp = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, in_channels, 1))
        self.spatial = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def init_weights(self) -> None:
        super().init_weights()
        if self.gate_bias is not None:
            # The channel logit sums the MLP over two descriptors, so each carries half.
            _open_gate(self.mlp[-1], self.gate_bias / 2)
            _open_gate(self.spatial, self.gate_bias)

    def channel_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Per-channel weights in (0, 1), shape (N, C, 1, 1)."""
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        peak = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return (avg + peak).sigmoid()

    def spatial_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Per-position weights in (0, 1), shape (N, 1, H, W)."""
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return self.spatial(pooled).sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rescale ``x`` (N, C, H, W) by channel, then by position; same shape."""
        x = x * self.channel_weights(x)
        return x * self.spatial_weights(x)
