"""CvT's building blocks: convolutional token embedding, attention with convolutional
projection, and the transformer block around it (Wu et al., 2021; Wang et al., 2023)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks.drop import DropPath
from mmengine.model import BaseModule


def tokens_to_map(tokens, hw):
    """(B, H*W, C) tokens to a (B, C, H, W) map."""
    return tokens.transpose(1, 2).unflatten(2, hw)


class ConvEmbed(BaseModule):
    """Convolutional token embedding: a strided conv over the image or previous token map, then
    LayerNorm over the flattened tokens.

    Args:
        in_channels (int): Channels of the input map.
        embed_dims (int): Channels of the tokens.
        patch_size (int): Kernel size of the conv.
        stride (int): Its stride.
        padding (int): Its padding.
        norm_cfg (dict): Norm after the conv. Defaults to ``dict(type='LN', eps=1e-5)``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self, in_channels, embed_dims, patch_size, stride, padding,
                 norm_cfg=dict(type='LN', eps=1e-5), init_cfg=None):
        super().__init__(init_cfg)
        self.proj = nn.Conv2d(in_channels, embed_dims, patch_size, stride, padding)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    def forward(self, x):
        """Map (B, C_in, H_in, W_in) to tokens (B, H*W, C) and the grid size (H, W)."""
        x = self.proj(x)
        hw = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), tuple(hw)


class ConvProjection(nn.Sequential):
    """Depthwise conv + BN over the token map (CvT's ``dw_bn`` projection)."""

    def __init__(self, dims, kernel_size, stride):
        super().__init__(
            nn.Conv2d(dims, dims, kernel_size, stride, kernel_size // 2, groups=dims,
                      bias=False),
            nn.BatchNorm2d(dims))


class ConvProjectionAttention(BaseModule):
    """Multi-head self-attention whose q/k/v come from a convolutional projection.

    The patch tokens are laid back on their grid and go through a depthwise conv + BN each for
    q, k and v (k/v with ``stride_kv``, which shrinks the key grid), then a linear projection.
    A CLS token, if present, skips the convs.

    Attention runs in :attr:`scaled_dot_product_attention` (``F.scaled_dot_product_attention``)
    and the (N, N_kv) probability map is never formed: the CLS row, when asked for (the sparse
    attention head's token selection), is computed alone (O(N_kv) per head).

    Args:
        embed_dims (int): Token channels.
        num_heads (int): Attention heads.
        qkv_bias (bool): Bias of the q/k/v linear layers. Defaults to True.
        kernel_size (int): Kernel of the depthwise projections. Defaults to 3.
        stride_q (int): Stride of the query projection. Defaults to 1.
        stride_kv (int): Stride of the key/value projections. Defaults to 2.
        scale_by (str): ``'embed_dims'``: logits scaled by ``embed_dims ** -0.5`` as CvT does
            (needed for CvT weights); ``'head_dims'``: by ``head_dims ** -0.5`` as in standard
            attention (the paper's Eq. 6). Defaults to ``'embed_dims'``.
        attn_drop (float): Dropout on attention probabilities. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to 0.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Attributes:
        scaled_dot_product_attention (Callable): The attention of (B, heads, N, d) queries over
            (B, heads, N_kv, d) keys and values, called as ``F.scaled_dot_product_attention``
            with ``dropout_p`` and ``scale`` (as mmpretrain's ``MultiheadAttention`` holds it):
            that function, unless a conversion such as
            :func:`mmcell.engine.convert_for_cpu_inference` put another in.

    Example:
        >>> import torch
        >>> from mmcell.models.layers import ConvProjectionAttention
        >>> attn = ConvProjectionAttention(32, num_heads=2).eval()
        >>> x = torch.rand(1, 1 + 8 * 8, 32)  # CLS + an 8x8 token grid
        >>> out, cls_row, key_grid = attn(x, (8, 8), num_extra_tokens=1,
        ...                               return_cls_attention=True)
        >>> out.shape, cls_row.shape, key_grid  # k/v stride 2: a 4x4 key grid + CLS
        (torch.Size([1, 65, 32]), torch.Size([1, 2, 17]), (4, 4))
    """

    def __init__(self, embed_dims, num_heads, qkv_bias=True, kernel_size=3, stride_q=1,
                 stride_kv=2, scale_by='embed_dims', attn_drop=0., proj_drop=0.,
                 init_cfg=None):
        super().__init__(init_cfg)
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by num_heads {num_heads}')
        if scale_by not in ('embed_dims', 'head_dims'):
            raise ValueError(f"scale_by must be 'embed_dims' or 'head_dims', got {scale_by!r}")
        self.num_heads = num_heads
        self.stride_kv = stride_kv
        self.stride_q = stride_q
        self.scale = (embed_dims if scale_by == 'embed_dims' else embed_dims // num_heads)**-0.5
        self.attn_drop = attn_drop
        self.conv_q = ConvProjection(embed_dims, kernel_size, stride_q)
        self.conv_k = ConvProjection(embed_dims, kernel_size, stride_kv)
        self.conv_v = ConvProjection(embed_dims, kernel_size, stride_kv)
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.k = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.v = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.scaled_dot_product_attention = F.scaled_dot_product_attention

    def _heads(self, x):
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def _project(self, conv, linear, patches, cls, hw):
        x = conv(tokens_to_map(patches, hw))
        grid = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)
        if cls is not None:
            x = torch.cat([cls, x], dim=1)
        return self._heads(linear(x)), grid

    def forward(self, x, hw, num_extra_tokens=0, return_cls_attention=False):
        """Attend.

        Args:
            x (torch.Tensor): Tokens (B, num_extra_tokens + H*W, C).
            hw (tuple[int, int]): Grid size of the patch tokens.
            num_extra_tokens (int): Leading non-grid tokens (the CLS token). Defaults to 0.
            return_cls_attention (bool): Also return the first token's attention
                probabilities over the keys (computed alone, O(N_kv): the full map is never
                formed). Defaults to False.

        Returns:
            torch.Tensor | tuple: The output (B, N, C); with ``return_cls_attention``, also
            the CLS row (B, heads, num_extra_tokens + Hk*Wk) and the key grid (Hk, Wk).
        """
        cls, patches = x[:, :num_extra_tokens], x[:, num_extra_tokens:]
        cls = cls if num_extra_tokens else None
        q, _ = self._project(self.conv_q, self.q, patches, cls, hw)
        k, key_grid = self._project(self.conv_k, self.k, patches, cls, hw)
        v, _ = self._project(self.conv_v, self.v, patches, cls, hw)
        out = self.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0., scale=self.scale)
        out = self.proj_drop(self.proj(out.transpose(1, 2).flatten(2)))
        if not return_cls_attention:
            return out
        cls_attention = (q[:, :, :1] @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        return out, cls_attention.squeeze(2), key_grid


class TokenMLP(nn.Sequential):
    """The block's MLP: linear, activation, dropout, linear, dropout (CvT's layout and keys).

    Args:
        embed_dims (int): Token channels.
        hidden_dims (int): Hidden width.
        act_cfg (dict): Activation.
        drop_rate (float): Dropout after each linear layer.
    """

    def __init__(self, embed_dims, hidden_dims, act_cfg, drop_rate):
        super().__init__(
            nn.Linear(embed_dims, hidden_dims), build_activation_layer(act_cfg),
            nn.Dropout(drop_rate), nn.Linear(hidden_dims, embed_dims), nn.Dropout(drop_rate))


class ConvTransformerBlock(BaseModule):
    """Transformer block with convolutional-projection attention.

    Args:
        embed_dims (int): Token channels.
        num_heads (int): Attention heads.
        mlp_ratio (float): Hidden width of the MLP over ``embed_dims``. Defaults to 4.
        norm_position (str): ``'pre'``: ``x + attn(norm(x))`` then ``x + mlp(norm(x))`` as in
            CvT; ``'post'``: ``norm(x + attn(x))`` then ``norm(x + mlp(x))`` as in the paper's
            Eqs. 10-11. Defaults to ``'pre'``.
        act_cfg (dict): MLP activation; the paper uses ReLU. Defaults to ``dict(type='GELU')``.
        norm_cfg (dict): Defaults to ``dict(type='LN', eps=1e-5)``.
        drop_rate (float): Dropout after the attention projection and in the MLP.
            Defaults to 0.
        attn_drop_rate (float): Dropout on attention probabilities. Defaults to 0.
        drop_path_rate (float): Stochastic depth of both branches. Defaults to 0.
        attn_cfg (dict): Other arguments of :class:`ConvProjectionAttention` (``qkv_bias``,
            ``kernel_size``, ``stride_q``, ``stride_kv``, ``scale_by``).
            Defaults to ``{}``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self, embed_dims, num_heads, mlp_ratio=4., norm_position='pre',
                 act_cfg=dict(type='GELU'), norm_cfg=dict(type='LN', eps=1e-5), drop_rate=0.,
                 attn_drop_rate=0., drop_path_rate=0., attn_cfg=dict(), init_cfg=None):
        super().__init__(init_cfg)
        if norm_position not in ('pre', 'post'):
            raise ValueError(f"norm_position must be 'pre' or 'post', got {norm_position!r}")
        self.norm_position = norm_position
        self.attn = ConvProjectionAttention(embed_dims, num_heads, attn_drop=attn_drop_rate,
                                            proj_drop=drop_rate, **attn_cfg)
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.mlp = TokenMLP(embed_dims, int(embed_dims * mlp_ratio), act_cfg, drop_rate)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def forward(self, x, hw, num_extra_tokens=0, return_cls_attention=False):
        """Run the block; arguments and outputs as :meth:`ConvProjectionAttention.forward`."""
        pre = self.norm_position == 'pre'
        attn = self.attn(self.norm1(x) if pre else x, hw, num_extra_tokens, return_cls_attention)
        out, *cls_attention = attn if return_cls_attention else (attn, )
        if pre:
            x = x + self.drop_path(out)
            x = x + self.drop_path(self.mlp(self.norm2(x)))
        else:
            x = self.norm1(x + self.drop_path(out))
            x = self.norm2(x + self.drop_path(self.mlp(x)))
        return (x, *cls_attention) if return_cls_attention else x
