"""Attention residual units of Song et al. (2021) as mmcv plugin layers.

Both rescale a feature map and keep its shape, so they slot into mmdet's ResNet bottleneck as
``plugins=[dict(cfg=dict(type=...), position='after_conv3')]``: after conv3 and its BN, before the
residual addition. They are registered in mmdet's ``MODELS``, where ``mmcv.cnn.build_plugin_layer``
looks them up under ``default_scope='mmdet'``.
"""
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.model import BaseModule


def _reduced(in_channels, ratio):
    if in_channels < 1 or ratio < 1:
        raise ValueError(f'in_channels and ratio must be positive, got {in_channels}, {ratio}')
    return max(1, in_channels // ratio)


def _open_gate(conv, bias):
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
    """

    _abbr_ = 'c_aru'

    def __init__(self, in_channels, ratio=16, gate_bias=None, init_cfg=None):
        super().__init__(init_cfg)
        self.gate_bias = gate_bias
        hidden = _reduced(in_channels, ratio)
        self.fc = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, in_channels, 1))

    def init_weights(self):
        super().init_weights()
        if self.gate_bias is not None:
            _open_gate(self.fc[-1], self.gate_bias)

    def channel_weights(self, x):
        """Per-channel weights in (0, 1), shape (N, C, 1, 1)."""
        return self.fc(x.mean(dim=(2, 3), keepdim=True)).sigmoid()

    def forward(self, x):
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
    """

    _abbr_ = 'cs_aru'

    def __init__(self, in_channels, ratio=16, kernel_size=7, gate_bias=None, init_cfg=None):
        super().__init__(init_cfg)
        self.gate_bias = gate_bias
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd to keep the map size, got {kernel_size}')
        hidden = _reduced(in_channels, ratio)
        self.mlp = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, in_channels, 1))
        self.spatial = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def init_weights(self):
        super().init_weights()
        if self.gate_bias is not None:
            # The channel logit sums the MLP over two descriptors, so each carries half.
            _open_gate(self.mlp[-1], self.gate_bias / 2)
            _open_gate(self.spatial, self.gate_bias)

    def channel_weights(self, x):
        """Per-channel weights in (0, 1), shape (N, C, 1, 1)."""
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        peak = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return (avg + peak).sigmoid()

    def spatial_weights(self, x):
        """Per-position weights in (0, 1), shape (N, 1, H, W)."""
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return self.spatial(pooled).sigmoid()

    def forward(self, x):
        x = x * self.channel_weights(x)
        return x * self.spatial_weights(x)
