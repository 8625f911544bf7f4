from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS

from ..layers.conv_attention import ConvEmbed, ConvTransformerBlock, tokens_to_map


class SparseAttentionInputs(NamedTuple):
    """What :class:`ConvTokenViT` with ``out_type='sparse_attention'`` gives the sparse head.

    Attributes:
        tokens (torch.Tensor): Last-stage tokens before the last encoder layer,
            (B, 1 + H*W, C), CLS first.
        cls_attention (torch.Tensor): CLS-row attention probabilities of the earlier last-stage
            layers, (B, L-1, heads, 1 + Hk*Wk), CLS key first.
        grid (tuple[int, int]): Token grid (H, W).
        key_grid (tuple[int, int]): Key grid (Hk, Wk); coarser than ``grid`` when k/v are
            strided.
    """
    tokens: torch.Tensor
    cls_attention: torch.Tensor
    grid: Tuple[int, int]
    key_grid: Tuple[int, int]


def _per_stage(value, name: str, num_stages: int) -> list:
    values = list(value) if isinstance(value, (list, tuple)) else [value] * num_stages
    if len(values) != num_stages:
        raise ValueError(f'{name} needs one value per stage ({num_stages}), got {value}')
    return values


@MODELS.register_module()
class ConvTokenViT(BaseModule):
    """Vision transformer with convolutional token embedding (CvT; Wang et al., 2023).

    Each stage embeds its input with a strided conv + LayerNorm, then runs transformer blocks
    whose q/k/v come from depthwise-conv projections. There is no position embedding (the convs
    carry position); the CLS token joins in the last stage only.

    With ``token_stem`` the first stage embeds a convolutional network's feature map instead of
    the image (a hybrid, as ViT-R50): e.g. ImageNet-pretrained EfficientNet-Lite0 up to stride
    16 gives the token grid, and one transformer stage (CvT-13's last: 384 dims, 6 heads, 10
    blocks) follows, its conv embedding a 1x1 projection (``patch_sizes=[1]``, ``strides=[1]``).

    Args:
        arch (str | dict): ``'cvt-13'`` (alias ``'13'``), ``'cvt-21'`` (``'21'``) or ``'paper'``
            (Table 5 of Wang et al.: CvT-13 with 1/2/6 heads), or a dict with the keys
            ``embed_dims``, ``num_heads``, ``depths``, ``patch_sizes``, ``strides``,
            ``paddings`` (one value per stage). Defaults to ``'cvt-13'``.
        in_channels (int): Image channels. Defaults to 3.
        out_type (str): ``'cls_token'`` (the final CLS token, normed), ``'featmap'``
            ((B, C, H, W) patch tokens), ``'avg_featmap'`` (mean patch token, normed) or
            ``'sparse_attention'`` (:class:`SparseAttentionInputs` for
            ``SparseAttentionHead``; the head's part layer then stands in for the last encoder
            layer, which this backbone does not build). Defaults to ``'cls_token'``.
        out_indices (Sequence[int] | int): Stages to output; stages before the last give
            ``featmap`` or ``avg_featmap`` only. Defaults to -1.
        mlp_ratio (float): MLP width over the embedding. Defaults to 4.
        qkv_bias (bool): Bias of the q/k/v linear layers. Defaults to True.
        stride_kv (int): Stride of the key/value conv projections. Defaults to 2.
        kernel_size (int): Kernel of the conv projections. Defaults to 3.
        scale_by (str): Attention scale by ``'embed_dims'`` (CvT) or ``'head_dims'``.
            Defaults to ``'embed_dims'``.
        norm_position (str): ``'pre'`` (CvT) or ``'post'`` (the paper's Eqs. 10-11).
            Defaults to ``'pre'``.
        act_cfg (dict): MLP activation (the paper: ReLU). Defaults to ``dict(type='GELU')``.
        norm_cfg (dict): Defaults to ``dict(type='LN', eps=1e-5)``.
        drop_rate (float): Dropout rate. Defaults to 0.
        attn_drop_rate (float): Attention dropout rate. Defaults to 0.
        drop_path_rate (float): Stochastic depth, rising linearly over all blocks to this.
            Defaults to 0.1.
        use_pos_embed (bool): Add a learnable position embedding per stage (the paper's
            Table 1 ablation; off in CvT). Defaults to False.
        img_size (int): Input size the position embeddings are made for (resized for other
            sizes). Defaults to 224.
        final_norm (bool): LayerNorm on the last stage's output. Defaults to True.
        frozen_stages (int): Stages ``0 .. frozen_stages - 1`` (their conv embedding, position
            embedding and blocks) are frozen: no gradient, eval mode (dropout and stochastic
            depth off). Freezing every stage freezes the CLS token and the final norm too, as
            mmpretrain's ``VisionTransformer`` does. In ``[0, num_stages]``; defaults to 0: none.
            A ``token_stem`` freezes by its own settings (e.g. its ``frozen_stages``).
        token_stem (dict, optional): A backbone (mmpretrain ``MODELS``) whose last output map
            the first stage embeds, e.g. ``dict(type='EfficientNetLite', out_indices=(5, ),
            init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0'))``; it keeps its
            own ``init_cfg`` (pretrained weights), the transformer takes this one's. Defaults to
            None: CvT's conv embedding of the image.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to truncated
            normal (std 0.02) for Linear layers and ones/zeros for LayerNorm.

    Example:
        >>> import torch
        >>> import mmcell  # registers ConvTokenViT in mmpretrain's MODELS
        >>> from mmpretrain.registry import MODELS
        >>> MODELS.build(dict(type='ConvTokenViT', arch='cvt-13')).embed_dims
        384
        >>> # A small custom arch: two stages, 64x64 inputs give 16x16, then 8x8 tokens.
        >>> arch = dict(embed_dims=[16, 32], num_heads=[1, 2], depths=[1, 2],
        ...             patch_sizes=[7, 3], strides=[4, 2], paddings=[2, 1])
        >>> x = torch.rand(1, 3, 64, 64)
        >>> model = MODELS.build(dict(type='ConvTokenViT', arch=arch)).eval()
        >>> model(x)[0].shape  # the final CLS token
        torch.Size([1, 32])
        >>> model = MODELS.build(dict(type='ConvTokenViT', arch=arch, out_type='featmap',
        ...                           out_indices=(0, 1))).eval()
        >>> for i, out in enumerate(model(x)):
        ...     print(f'outputs[{i}].shape = {out.shape}')
        outputs[0].shape = torch.Size([1, 16, 16, 16])
        outputs[1].shape = torch.Size([1, 32, 8, 8])
        >>> # For SparseAttentionHead: tokens before the last layer and the CLS attention rows
        >>> # (B, L-1, heads, 1 + keys) of the layers before it; k/v stride 2 gives 4x4 keys.
        >>> model = MODELS.build(dict(type='ConvTokenViT', arch=arch,
        ...                           out_type='sparse_attention')).eval()
        >>> out = model(x)[0]
        >>> out.tokens.shape, out.cls_attention.shape, out.grid, out.key_grid
        (torch.Size([1, 65, 32]), torch.Size([1, 1, 2, 17]), (8, 8), (4, 4))
        >>> # Only the last stage (with the CLS token and the final norm) trains.
        >>> model = MODELS.build(dict(type='ConvTokenViT', arch=arch, frozen_stages=1)).train()
        >>> sorted({name.split('.')[0] for name, p in model.named_parameters()
        ...         if p.requires_grad})
        ['cls_token', 'embeds', 'norm', 'stages']
        >>> model.stages[0].training, model.embeds[1].training
        (False, True)
        >>> # A hybrid: EfficientNet-Lite0 to stride 16 (112 channels) gives 4x4 tokens at 64 px.
        >>> stem = dict(type='EfficientNetLite', arch='lite0', out_indices=(5, ))
        >>> arch = dict(embed_dims=[32], num_heads=[2], depths=[2], patch_sizes=[1],
        ...             strides=[1], paddings=[0])
        >>> model = MODELS.build(dict(type='ConvTokenViT', arch=arch, token_stem=stem,
        ...                           out_type='featmap')).eval()
        >>> model.embeds[0].proj
        Conv2d(112, 32, kernel_size=(1, 1), stride=(1, 1))
        >>> model(x)[0].shape
        torch.Size([1, 32, 4, 4])
    """

    arch_zoo = {
        **dict.fromkeys(['13', 'cvt-13'], dict(
            embed_dims=[64, 192, 384], num_heads=[1, 3, 6], depths=[1, 2, 10],
            patch_sizes=[7, 3, 3], strides=[4, 2, 2], paddings=[2, 1, 1])),
        **dict.fromkeys(['21', 'cvt-21'], dict(
            embed_dims=[64, 192, 384], num_heads=[1, 3, 6], depths=[1, 4, 16],
            patch_sizes=[7, 3, 3], strides=[4, 2, 2], paddings=[2, 1, 1])),
        'paper': dict(
            embed_dims=[64, 192, 384], num_heads=[1, 2, 6], depths=[1, 2, 10],
            patch_sizes=[7, 3, 3], strides=[4, 2, 2], paddings=[2, 1, 1]),
    }
    ARCH_KEYS = ('embed_dims', 'num_heads', 'depths', 'patch_sizes', 'strides', 'paddings')
    OUT_TYPES = ('cls_token', 'featmap', 'avg_featmap', 'sparse_attention')

    def __init__(self,
                 arch: Union[str, dict] = 'cvt-13',
                 in_channels: int = 3,
                 out_type: str = 'cls_token',
                 out_indices: Union[Sequence[int], int] = -1,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 stride_kv: int = 2,
                 kernel_size: int = 3,
                 scale_by: str = 'embed_dims',
                 norm_position: str = 'pre',
                 act_cfg: dict = dict(type='GELU'),
                 norm_cfg: dict = dict(type='LN', eps=1e-5),
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 use_pos_embed: bool = False,
                 img_size: int = 224,
                 final_norm: bool = True,
                 frozen_stages: int = 0,
                 token_stem: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
                 ]) -> None:
        super().__init__(init_cfg)
        self.arch_settings = self._arch_settings(arch)
        num_stages = len(self.arch_settings['depths'])
        if out_type not in self.OUT_TYPES:
            raise ValueError(f'out_type must be one of {self.OUT_TYPES}, got {out_type!r}')
        self.out_type = out_type
        out_indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        self.out_indices = sorted(i % num_stages for i in out_indices)
        if out_type in ('cls_token', 'sparse_attention') and self.out_indices != [num_stages - 1]:
            raise ValueError(f'out_type {out_type!r} comes from the last stage only '
                             f'(out_indices=-1), got {out_indices}')
        if out_type == 'sparse_attention' and self.arch_settings['depths'][-1] < 2:
            raise ValueError('out_type sparse_attention needs at least 2 blocks in the last stage')
        if not (isinstance(frozen_stages, int) and 0 <= frozen_stages <= num_stages):
            raise ValueError(f'frozen_stages must be an int in [0, {num_stages}] (the number of '
                             f'stages frozen), got {frozen_stages!r}')
        self.num_stages = num_stages
        self.frozen_stages = frozen_stages
        self.use_pos_embed = use_pos_embed

        depths = self.arch_settings['depths']
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.embeds, self.stages = ModuleList(), ModuleList()
        self.pos_embeds = nn.ParameterList() if use_pos_embed else None
        channels, size = in_channels, img_size
        self.token_stem = None
        if token_stem is not None:
            self.token_stem = MODELS.build(token_stem)
            channels, size = self._stem_output(in_channels, img_size)
        for i in range(num_stages):
            dims = self.arch_settings['embed_dims'][i]
            patch, stride, padding = (self.arch_settings[k][i]
                                      for k in ('patch_sizes', 'strides', 'paddings'))
            self.embeds.append(ConvEmbed(channels, dims, patch, stride, padding, norm_cfg))
            size = (size + 2 * padding - patch) // stride + 1
            if use_pos_embed:
                self.pos_embeds.append(nn.Parameter(torch.zeros(1, size * size, dims)))
            # With the sparse head, its part layer is the last encoder layer.
            depth = depths[i] - (i == num_stages - 1 and out_type == 'sparse_attention')
            first = sum(depths[:i])
            self.stages.append(ModuleList(
                ConvTransformerBlock(
                    dims, self.arch_settings['num_heads'][i], mlp_ratio, norm_position, act_cfg,
                    norm_cfg, drop_rate, attn_drop_rate, rates[first + j],
                    attn_cfg=dict(qkv_bias=qkv_bias, kernel_size=kernel_size,
                                  stride_kv=stride_kv, scale_by=scale_by))
                for j in range(depth)))
            channels = dims
        self.embed_dims = channels
        self.cls_token = nn.Parameter(torch.zeros(1, 1, channels))
        # With the sparse head, its part layer's norm is the final one.
        self.final_norm = final_norm and out_type != 'sparse_attention'
        if self.final_norm:
            self.norm = build_norm_layer(norm_cfg, channels)[1]
        self._freeze_stages()

    def _stem_output(self, in_channels: int, img_size: int) -> Tuple[int, int]:
        """Channels and (square) size of the token stem's last map for an ``img_size`` image,
        from one forward pass in eval mode (running statistics left as they are)."""
        was_training = self.token_stem.training
        with torch.no_grad():
            out = self.token_stem.eval()(torch.zeros(1, in_channels, img_size, img_size))[-1]
        self.token_stem.train(was_training)
        if out.dim() != 4:
            raise ValueError(f'token_stem must give feature maps (B, C, H, W); its last output '
                             f'has shape {tuple(out.shape)}')
        return out.shape[1], out.shape[2]

    @classmethod
    def _arch_settings(cls, arch):
        if isinstance(arch, str):
            if arch.lower() not in cls.arch_zoo:
                raise ValueError(f'arch {arch!r} is not one of {sorted(cls.arch_zoo)}')
            return cls.arch_zoo[arch.lower()]
        if not isinstance(arch, dict) or set(cls.ARCH_KEYS) - set(arch):
            raise ValueError(f'a custom arch is a dict with the keys {cls.ARCH_KEYS}, got {arch}')
        lengths = {len(arch[k]) for k in cls.ARCH_KEYS}
        if len(lengths) != 1:
            raise ValueError(f'every key of a custom arch needs one value per stage, got {arch}')
        bad = [i for i, (d, h) in enumerate(zip(arch['embed_dims'], arch['num_heads'])) if d % h]
        if bad:
            raise ValueError(f'embed_dims must be divisible by num_heads in every stage; not in '
                             f'stage(s) {bad} of {arch}')
        return dict(arch)

    def _freeze_stages(self) -> None:
        """No gradient and eval mode for the first ``frozen_stages`` stages (all of them: also
        the CLS token and the final norm)."""
        frozen = [self.embeds[:self.frozen_stages], self.stages[:self.frozen_stages]]
        if self.use_pos_embed:
            frozen += [self.pos_embeds[:self.frozen_stages]]
        if self.frozen_stages == self.num_stages:
            self.cls_token.requires_grad_(False)
            if self.final_norm:
                frozen.append(self.norm)
        for module in frozen:
            module.eval()
            module.requires_grad_(False)

    def train(self, mode: bool = True) -> 'ConvTokenViT':
        """Set the training mode; frozen stages stay in eval mode."""
        super().train(mode)
        self._freeze_stages()
        return self

    def init_weights(self) -> None:
        super().init_weights()
        if not (isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'):
            trunc_normal_(self.cls_token, std=.02)
            for pos_embed in self.pos_embeds or []:
                trunc_normal_(pos_embed, std=.02)

    def _add_pos_embed(self, x, stage, hw):
        pos_embed = self.pos_embeds[stage]
        side = int(pos_embed.shape[1]**0.5)
        return x + resize_pos_embed(pos_embed, (side, side), hw, mode='bicubic',
                                    num_extra_tokens=0)

    def forward(
            self, x: torch.Tensor) -> Tuple[Union[torch.Tensor, SparseAttentionInputs], ...]:
        """One output per stage in ``out_indices``: (B, C) for ``cls_token`` and
        ``avg_featmap``, (B, C, H, W) for ``featmap``, a :class:`SparseAttentionInputs` for
        ``sparse_attention``."""
        outs = []
        last = self.num_stages - 1
        if self.token_stem is not None:
            x = self.token_stem(x)[-1]
        for i, (embed, blocks) in enumerate(zip(self.embeds, self.stages)):
            x, hw = embed(x)
            if self.use_pos_embed:
                x = self._add_pos_embed(x, i, hw)
            if i < last:
                for block in blocks:
                    x = block(x, hw)
                if i in self.out_indices:
                    outs.append(self._format_patch_tokens(x, hw))
                x = tokens_to_map(x, hw)
                continue
            x = torch.cat([self.cls_token.expand(x.size(0), -1, -1), x], dim=1)
            if self.out_type == 'sparse_attention':
                outs.append(self._sparse_attention_inputs(x, hw, blocks))
                break
            for block in blocks:
                x = block(x, hw, num_extra_tokens=1)
            if self.final_norm:
                x = self.norm(x)
            outs.append(x[:, 0] if self.out_type == 'cls_token' else
                        self._format_patch_tokens(x[:, 1:], hw))
        return tuple(outs)

    def _format_patch_tokens(self, x, hw):
        return tokens_to_map(x, hw) if self.out_type == 'featmap' else x.mean(dim=1)

    def _sparse_attention_inputs(self, x, hw, blocks):
        rows = []
        for block in blocks:
            x, cls_attention, key_grid = block(x, hw, num_extra_tokens=1,
                                               return_cls_attention=True)
            rows.append(cls_attention)
        return SparseAttentionInputs(x, torch.stack(rows, dim=1), tuple(hw), tuple(key_grid))
