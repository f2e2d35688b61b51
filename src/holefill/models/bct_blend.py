"""Wide-range image blending with Bidirectional Content Transfer (BCT).

Paper: Chia-Ni Lu, Ya-Chu Chang, Wei-Chen Chiu, "Bridging the Visual Gap: Wide-Range Image
Blending", CVPR 2021 (arXiv:2103.15149).
Official code (PyTorch, no licence; read, not copied): https://github.com/julia0607/Wide-Range-Image-Blending,
``models/Generator.py`` (the generator), ``models/Discriminator.py``, ``train_SR.py`` and
``train_FT.py`` (the two training stages, see :mod:`holefill.train.recipes.bct_blend`).

Two photos in, a panorama out: ``left | middle | right``, the middle generated.

- Shared encoder (run on each side on its own; ``b`` = 64): conv 4x4 s2 ``b``; conv 4x4 s2
  ``2b``; three ResNet-50-style bottleneck stages without normalisation at 1/8 (a strided
  block and two identity blocks, ``4b``), with instance norm at 1/16 (1 + 3 blocks, ``8b``),
  1/32 (1 + 3, ``16b``) and 1/64 (1 + 4, ``16b``); a 1x1 conv to ``8b`` (LeakyReLU 0.2).
  The six stage outputs are the skip features of levels 0-5.
- BCT: the 1/64 feature map is read column by column (one column of ``8b`` x ``lstm_rows``
  values is one LSTM step). A two-layer LSTM encoder summarises the right side (left to
  right) and the left side (right to left); a two-layer conditional LSTM decoder starts from
  the *other* side's summary, reads one side towards the gap and then runs on its own
  output, predicting the middle and the far side. The two predictions of the middle are
  concatenated and merged by a 1x1 conv (LeakyReLU). ``from_left``/``from_right`` give
  every column each direction saw or predicted (for the feature-consistency loss).
- Decoder on ``left | middle | right`` skip features: a gated residual block (GRB, 3x1 and
  1x7 convs, dilated) and bottleneck blocks per level, transposed convs up; at each skip
  level the two sides are merged with their encoder skip by a shared SHC block and the
  middle, with the skip features the contextual attention pastes from both sides (matched
  on decoder features), by its own SHC block; sigmoid output.
- The official model attends at level 1 only (``--attention 1`` in the train and test
  scripts), which is the default here; every skip level has its middle SHC block whether
  it attends or not, as there.
- Parameters: 258,666,240 at ``base`` 64, ``lstm_rows`` 4 (BCT 134,808,064, of which the
  two LSTMs are 134,283,264), the same as the official ``Generator()`` (counted from the
  layer definitions in ``models/Generator.py``; tests/test_bct_blend.py states both counts).
  Layer and parameter names follow the official ones, so its ``Gen`` state dict loads as is.
- The discriminator (:class:`BCTDiscriminator`) is the official global one: four 4x4 s2
  convs (64 ... 512, instance norm without affine from the second) and one linear layer on
  the flattened map, so it is built for one input size.

Beyond the official code (which fixes 256x256 sides and a 256-wide middle):

- Any height that is a multiple of 64: the LSTM always reads ``lstm_rows`` feature rows per
  step (the official 4, 256 px); a taller map is read in overlapping windows of that many
  rows (one window per row offset, batched) whose predictions are averaged per row, and a
  shorter one is padded by repeating its edge rows. At the official size this is exactly
  the official computation.
- Any side and gap widths that are multiples of 64: the LSTM runs as many steps as the
  sides and the gap have feature columns.
- Inputs and output are in [-1, 1] (holefill's convention); the network maps its input to
  the official [0, 1] first and its sigmoid output back, so official weights work as they
  are.
- As an :class:`~holefill.models.base.InpaintModel` the generator also fills a canvas
  whose hole is one full-height band of columns (``forward(image, mask)``), which is how
  the trainer previews and evaluates it; :meth:`BCTBlend.blend` is the direct entry point.
- Contextual attention is holefill's exact, memory-bounded layer with the official
  variant's settings (ksize 3, rate 2, fuse 3, scale 10, PyTorch nearest downscaling, keys
  normalised by ``sqrt(sum(k^2 + 1e-4))``, patches pasted from ``raw`` skip features).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.layers.contextual_attention import ContextualAttention
from holefill.models.base import InpaintModel, InpaintOutput
from holefill.models.registry import build_config, register_model

#: Downsampling of the encoder (six stride-2 steps).
STRIDE = 64
#: Skip levels of the decoder, deepest first.
LEVELS = (4, 3, 2, 1, 0)


@dataclass
class BCTBlendConfig:
    """Settings of the BCT generator; defaults are the official ones."""

    #: Width of the first conv; the official widths are 1, 2, 4, 8, 16 times it (64 ... 1024).
    base: int = 64
    #: Feature rows per LSTM step (official: 4, i.e. 256 px at stride 64).
    lstm_rows: int = 4
    #: Layers of the LSTM encoder and of the LSTM decoder (official: 2).
    lstm_layers: int = 2
    #: Decoder levels with skip connections (official: all of 0-4).
    skip: tuple[int, ...] = (0, 1, 2, 3, 4)
    #: Skip levels whose middle gets contextual attention (official scripts: level 1).
    attention: tuple[int, ...] = (1,)
    attention_softmax_scale: float = 10.0
    #: Score entries held at once by the attention; bounds memory.
    attention_chunk: int = 2**24

    def __post_init__(self) -> None:
        self.skip = tuple(int(k) for k in self.skip)
        self.attention = tuple(int(k) for k in self.attention)
        if self.base < 2 or self.base % 2:
            raise ConfigError(f"bct_blend: base must be an even number >= 2, got {self.base}")
        if self.lstm_rows < 1 or self.lstm_layers < 1:
            raise ConfigError(f"bct_blend: lstm_rows and lstm_layers must be >= 1, got {self.lstm_rows}, "
                              f"{self.lstm_layers}")
        bad = [k for k in self.skip if k not in LEVELS]
        if bad:
            raise ConfigError(f"bct_blend: skip levels are 0-4, got {bad[0]}")
        bad = [k for k in self.attention if k not in self.skip]
        if bad:
            raise ConfigError(f"bct_blend: attention level {bad[0]} needs a skip connection there (skip={self.skip})")
        if self.attention_chunk < 1:
            raise ConfigError("bct_blend: attention_chunk must be >= 1")


# ----------------------------------------------------------------------------- building blocks


def _layer(cin: int, cout: int, k: int | tuple[int, int], s: int = 1, p: int | tuple[int, int] = 0, *,
           dilation: int = 1, bias: bool = True, norm: bool = True, act: str | None = "lrelu",
           transpose: bool = False) -> nn.Sequential:
    """Conv (or transposed conv), then instance norm (affine) and an activation, each optional."""
    conv_cls = nn.ConvTranspose2d if transpose else nn.Conv2d
    parts: list[nn.Module] = [conv_cls(cin, cout, k, s, p, dilation=dilation, bias=bias)]
    if norm:
        parts.append(nn.InstanceNorm2d(cout, affine=True))
    if act is not None:
        parts.append(nn.ReLU() if act == "relu" else nn.LeakyReLU(0.2))
    return nn.Sequential(*parts)


def _act(relu: bool) -> nn.Module:
    return nn.ReLU() if relu else nn.LeakyReLU(0.2)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 bottleneck with a residual; ``stride`` 2 adds a strided 1x1 shortcut."""

    def __init__(self, cin: int, mid: int, cout: int, *, stride: int = 1, norm: bool = True, relu: bool = False) -> None:
        super().__init__()
        act = "relu" if relu else "lrelu"
        self.conv1 = _layer(cin, mid, 1, bias=False, norm=norm, act=act)
        self.conv2 = _layer(mid, mid, 3, stride, 1, bias=False, norm=norm, act=act)
        self.conv3 = _layer(mid, cout, 1, bias=False, norm=norm, act=None)
        if stride != 1 or cin != cout:
            self.shortcut_path = _layer(cin, cout, 1, stride, bias=False, norm=norm, act=None)
        self.output = _act(relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.shortcut_path(x) if hasattr(self, "shortcut_path") else x
        return self.output(self.conv3(self.conv2(self.conv1(x))) + shortcut)


def _stage(cin: int, mid: int, cout: int, identities: int, *, norm: bool = True, relu: bool = False,
           down: bool = False) -> list[nn.Module]:
    first = [Bottleneck(cin, mid, cout, stride=2, norm=norm, relu=relu)] if down else []
    return first + [Bottleneck(cout, mid, cout, norm=norm, relu=relu) for _ in range(identities)]


class SHC(nn.Module):
    """Merge decoder features with skip features: ``1x1(2c -> c/2), 3x3, 1x1(-> c)`` plus a shortcut."""

    def __init__(self, channels: int, norm: bool = True) -> None:
        super().__init__()
        half = channels // 2
        self.conv1 = _layer(2 * channels, half, 1, norm=norm, act="relu")
        self.conv2 = _layer(half, half, 3, 1, 1, norm=norm, act="relu")
        self.conv3 = _layer(half, channels, 1, norm=norm, act=None)

    def forward(self, x: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv2(self.conv1(x))) + shortcut


class GRB(nn.Module):
    """Gated residual block: (3x1 -> 1x7) and (1x7 -> 3x1) paths, dilated, added to the input."""

    def __init__(self, channels: int, dilation: int, norm: bool = True) -> None:
        super().__init__()
        d = dilation

        def tall(act: str | None) -> nn.Sequential:
            return _layer(channels, channels, (3, 1), 1, (d, 0), dilation=d, norm=norm, act=act)

        def wide(act: str | None) -> nn.Sequential:
            return _layer(channels, channels, (1, 7), 1, (0, 3 * d), dilation=d, norm=norm, act=act)

        self.path1 = nn.Sequential(tall("relu"), wide(None))
        self.path2 = nn.Sequential(wide("relu"), tall(None))
        self.output = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(x + self.path1(x) + self.path2(x))


# ----------------------------------------------------------------------------- BCT


def _columns(x: torch.Tensor) -> torch.Tensor:
    """(N, C, R, W) -> (N, W, C*R): one LSTM step per feature column, flattened channel-major."""
    n, c, r, w = x.shape
    return x.permute(0, 3, 1, 2).reshape(n, w, c * r)


def _from_columns(seq: torch.Tensor, channels: int, rows: int) -> torch.Tensor:
    """(N, W, C*R) -> (N, C, R, W)."""
    n, w, _ = seq.shape
    return seq.reshape(n, w, channels, rows).permute(0, 2, 3, 1)


@dataclass
class BCTOutput:
    """The merged middle features, and what each direction saw or predicted, left to right."""

    middle: torch.Tensor
    #: (left side as read, predicted middle, predicted right side) of the left-to-right pass.
    from_left: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    #: (predicted left side, predicted middle, right side as read) of the right-to-left pass.
    from_right: tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class BCT(nn.Module):
    """Bidirectional Content Transfer: LSTM encoder and conditional LSTM decoder over columns."""

    def __init__(self, channels: int, rows: int, layers: int = 2) -> None:
        super().__init__()
        self.channels, self.rows, self.layers = channels, rows, layers
        size = channels * rows
        self.LSTM_encoder = nn.LSTM(size, size, num_layers=layers, batch_first=True)
        self.LSTM_decoder = nn.LSTM(size, size, num_layers=layers, batch_first=True)
        self.output = _layer(2 * channels, channels, 1, norm=False, act="lrelu")

    def _transfer(self, seen: torch.Tensor, other: torch.Tensor, steps: int) -> torch.Tensor:
        """Read ``other`` (N, T, D) into a state, decode ``seen`` from it, then predict ``steps`` columns."""
        _, state = self.LSTM_encoder(other)
        out, state = self.LSTM_decoder(seen, state)
        step = out[:, -1:]
        predicted = [step]
        for _ in range(steps - 1):
            step, state = self.LSTM_decoder(step, state)
            predicted.append(step)
        return torch.cat(predicted, dim=1)

    def _window(self, left: torch.Tensor, right: torch.Tensor, gap: int,
                sides: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Both directions on maps of exactly ``rows`` rows: (mid L->R, mid R->L, right from L, left from R)."""
        c, r = self.channels, self.rows
        wl, wr = left.shape[-1], right.shape[-1]
        lcols, rcols = _columns(left), _columns(right)
        # Left to right: the state summarises the right side; read the left, then predict.
        ltr = _from_columns(self._transfer(lcols, rcols, gap + (wr if sides else 0)), c, r)
        # Right to left: the same networks on the columns in reverse order.
        rtl = _from_columns(self._transfer(rcols.flip(1), lcols.flip(1), gap + (wl if sides else 0)), c, r).flip(-1)
        if sides:
            return ltr[..., :gap], rtl[..., wl:], ltr[..., gap:], rtl[..., :wl]
        return ltr, rtl, ltr[..., :0], rtl[..., :0]

    def forward(self, left: torch.Tensor, right: torch.Tensor, gap: int, *, sides: bool = False) -> BCTOutput:
        """Middle features ``gap`` columns wide between ``left`` and ``right`` (N, C, R, W each).

        ``sides`` also predicts each side from the other (training's feature consistency).
        Maps with other than ``rows`` rows are read in windows (see the module docstring).
        """
        n, c, rows = left.shape[0], self.channels, left.shape[2]
        r = self.rows
        if rows < r:  # repeat the edge rows
            top = (r - rows) // 2
            pad = (0, 0, top, r - rows - top)
            left_w = F.pad(left, pad, mode="replicate")[None]
            right_w = F.pad(right, pad, mode="replicate")[None]
            offsets = [-top]
        else:
            offsets = list(range(rows - r + 1))
            left_w = torch.stack([left[:, :, o:o + r] for o in offsets])
            right_w = torch.stack([right[:, :, o:o + r] for o in offsets])
        k = len(offsets)
        parts = self._window(left_w.flatten(0, 1), right_w.flatten(0, 1), gap, sides)
        merged = []
        for part in parts:
            part = part.reshape(k, n, c, r, part.shape[-1])
            if rows < r:
                merged.append(part[0, :, :, top:top + rows])
                continue
            total = part.new_zeros(n, c, rows, part.shape[-1])
            count = part.new_zeros(1, 1, rows, 1)
            for i, o in enumerate(offsets):
                total[:, :, o:o + r] += part[i]
                count[:, :, o:o + r] += 1
            merged.append(total / count)
        mid_l, mid_r, right_from_l, left_from_r = merged
        middle = self.output(torch.cat([mid_l, mid_r], dim=1))
        return BCTOutput(middle=middle, from_left=(left, mid_l, right_from_l), from_right=(left_from_r, mid_r, right))


# ----------------------------------------------------------------------------- generator


@dataclass
class BlendOutput(InpaintOutput):
    """The panorama (``output``, N3H(Wl+G+Wr) in [-1, 1]), and the BCT's features for the losses."""

    middle: torch.Tensor
    from_left: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    from_right: tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class BCTBlend(InpaintModel):
    """The wide-range blending generator (see the module docstring for the layout)."""

    size_multiple = STRIDE
    #: What the model does: join two photos (the method table lists it under ``blend``).
    task = "blend"

    def __init__(self, config: BCTBlendConfig) -> None:
        super().__init__(config)
        self.config: BCTBlendConfig = config
        b = config.base
        self.CA = ContextualAttention(ksize=3, rate=2, fuse_k=3, softmax_scale=config.attention_softmax_scale,
                                      fuse=True, chunk_size=config.attention_chunk, downscale="nearest",
                                      key_norm="smooth")
        # Encoder
        self.encoder_stage1_conv1 = _layer(3, b, 4, 2, 1, bias=False, norm=False)
        self.encoder_stage1_conv2 = _layer(b, 2 * b, 4, 2, 1, bias=False, norm=False)
        self.encoder_stage2 = nn.Sequential(*_stage(2 * b, b, 4 * b, 2, norm=False, down=True))
        self.encoder_stage3 = nn.Sequential(*_stage(4 * b, 2 * b, 8 * b, 3, down=True))
        self.encoder_stage4 = nn.Sequential(*_stage(8 * b, 4 * b, 16 * b, 3, down=True))
        self.encoder_stage5 = nn.Sequential(*_stage(16 * b, 8 * b, 16 * b, 4, down=True))
        self.feature_in = _layer(16 * b, 8 * b, 1, norm=False)
        self.BCT = BCT(8 * b, config.lstm_rows, config.lstm_layers)
        self.feature_out = _layer(8 * b, 16 * b, 1, norm=False)
        # Decoder, deepest level first
        self.GRB5 = GRB(16 * b, 1)
        self.decoder_stage5 = nn.Sequential(*_stage(16 * b, 8 * b, 16 * b, 2, relu=True),
                                            _layer(16 * b, 16 * b, 4, 2, 1, bias=False, act="relu", transpose=True))
        # level: (channels, normalised, GRB dilation or None, bottleneck width, identity blocks, next channels)
        plan = {4: (16 * b, True, 2, 4 * b, 3, 8 * b), 3: (8 * b, True, 4, 2 * b, 3, 4 * b),
                2: (4 * b, False, 4, b, 4, 2 * b), 1: (2 * b, False, None, 0, 0, b), 0: (b, False, None, 0, 0, 3)}
        for level, (ch, norm, dilation, mid, ids, nxt) in plan.items():
            if level in config.skip:  # (the official code builds SHC{level} for levels without a skip too)
                self.add_module(f"SHC{level}", SHC(ch, norm=norm))
                self.add_module(f"SHC{level}_mid", SHC(ch, norm=norm))
            self.add_module(f"skip{level}", nn.Sequential(nn.InstanceNorm2d(ch, affine=True), nn.ReLU()) if norm
                            else nn.ReLU())
            if dilation is not None:
                self.add_module(f"GRB{level}", GRB(ch, dilation, norm=norm))
            up = _layer(ch, nxt, 4, 2, 1, bias=False, norm=norm, act="relu", transpose=True)
            if level == 0:
                stage = nn.Sequential(nn.ConvTranspose2d(ch, 3, 4, 2, 1, bias=False), nn.Sigmoid())
            elif ids == 0:
                stage = up
            else:
                stage = nn.Sequential(*_stage(ch, mid, ch, ids, norm=norm, relu=True), up)
            self.add_module(f"decoder_stage{level}", stage)

    # -- parts -------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The 1/64 features (``8b`` channels) of N3HW ``x`` in [-1, 1], and the six skip maps."""
        x = (x + 1.0) * 0.5  # the official network reads [0, 1]
        skips = []
        for stage in (self.encoder_stage1_conv1, self.encoder_stage1_conv2, self.encoder_stage2,
                      self.encoder_stage3, self.encoder_stage4, self.encoder_stage5):
            x = stage(x)
            skips.append(x)
        return self.feature_in(x), skips

    def _attend(self, mid: torch.Tensor, left: torch.Tensor, right: torch.Tensor, raw_l: torch.Tensor,
                raw_r: torch.Tensor) -> torch.Tensor:
        """Skip features for the middle, pasted from both sides where the decoder features match."""
        pasted, _ = self.CA(mid, torch.cat([left, right], dim=3), raw=torch.cat([raw_l, raw_r], dim=3))
        return pasted

    def decode(self, x: torch.Tensor, skips_l: list[torch.Tensor], skips_r: list[torch.Tensor],
               widths: tuple[int, int, int]) -> torch.Tensor:
        """The panorama in [0, 1] from 1/64 features ``left | middle | right`` of column ``widths`` (pixels)."""
        cfg = self.config
        out = self.decoder_stage5(self.GRB5(x))
        for level in LEVELS:
            if level in cfg.skip:
                scale = 2 ** (level + 1)
                wl, wg, wr = (w // scale for w in widths)
                left, mid, right = torch.split(out, [wl, wg, wr], dim=3)
                skip = getattr(self, f"skip{level}")
                if level in cfg.attention:
                    pasted = self._attend(mid, left, right, skips_l[level], skips_r[level])
                    mid = skip(getattr(self, f"SHC{level}_mid")(torch.cat([mid, pasted], 1), mid))
                shc = getattr(self, f"SHC{level}")
                left = skip(shc(torch.cat([left, skips_l[level]], 1), skips_l[level]))
                right = skip(shc(torch.cat([right, skips_r[level]], 1), skips_r[level]))
                out = torch.cat([left, mid, right], dim=3)
                if hasattr(self, f"GRB{level}"):
                    out = getattr(self, f"GRB{level}")(out)
            out = getattr(self, f"decoder_stage{level}")(out)
        return out

    # -- entry points --------------------------------------------------------------------------
    def blend(self, left: torch.Tensor, right: torch.Tensor, gap: int, *, sides: bool = False) -> BlendOutput:
        """Join ``left`` (N3HWl) and ``right`` (N3HWr), [-1, 1], with ``gap`` generated columns.

        H, Wl, Wr and ``gap`` must be multiples of 64. ``output`` is the whole panorama as the
        network draws it (sides included, before compositing). ``sides`` also predicts each
        side's features from the other (for training).
        """
        for name, t in (("left", left), ("right", right)):
            if t.dim() != 4 or t.shape[1] != 3:
                raise InvalidArgumentError(f"bct_blend: {name} must be N3HW, got shape {tuple(t.shape)}")
        if left.shape[0] != right.shape[0] or left.shape[2] != right.shape[2]:
            raise InvalidArgumentError(f"bct_blend: left and right need the same batch and height, got "
                                       f"{tuple(left.shape)} and {tuple(right.shape)}")
        if isinstance(gap, bool) or not isinstance(gap, int) or gap < STRIDE:
            raise InvalidArgumentError(f"bct_blend: gap must be a whole number of pixels >= {STRIDE}, got {gap!r}")
        h, wl, wr = left.shape[2], left.shape[3], right.shape[3]
        if any(v % STRIDE or v < STRIDE for v in (h, wl, wr, gap)):
            raise InvalidArgumentError(f"bct_blend: height, side widths and gap must be multiples of {STRIDE} "
                                       f"(>= {STRIDE}), got height {h}, sides {wl} and {wr}, gap {gap}")
        if h == STRIDE and min(wl, wr) == STRIDE:
            raise InvalidArgumentError(f"bct_blend: a {STRIDE}x{STRIDE} side is one value per channel at the deepest "
                                       f"level, which instance norm cannot normalise; give 128 rows or wider sides")
        feat_l, skips_l = self.encode(left)
        feat_r, skips_r = self.encode(right)
        bct = self.BCT(feat_l, feat_r, gap // STRIDE, sides=sides)
        x = torch.cat([skips_l[5], self.feature_out(bct.middle), skips_r[5]], dim=3)
        panorama = self.decode(x, skips_l, skips_r, (wl, gap, wr)) * 2.0 - 1.0
        return BlendOutput(output=panorama, middle=bct.middle, from_left=bct.from_left, from_right=bct.from_right)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> BlendOutput:  # type: ignore[override]
        """Fill canvases whose hole is one full-height band of columns (each image its own band).

        Images with the same band run as one batch. With several bands only ``output`` is
        filled (the feature fields, whose widths follow the band, are those of the first band).
        """
        bands = band_columns(mask, image.shape)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, band in enumerate(bands):
            groups.setdefault(band, []).append(i)
        if len(groups) == 1:
            a, b = bands[0]
            return self.blend(image[..., :a], image[..., b:], b - a)
        output = torch.empty_like(image)
        first = None
        for (a, b), items in groups.items():
            index = torch.tensor(items, device=image.device)
            part = image.index_select(0, index)
            out = self.blend(part[..., :a], part[..., b:], b - a)
            output[index] = out.output.to(output.dtype)
            first = first or out
        assert first is not None
        return BlendOutput(output=output, middle=first.middle, from_left=first.from_left, from_right=first.from_right)


def band_columns(mask: torch.Tensor, shape: torch.Size | tuple[int, ...]) -> list[tuple[int, int]]:
    """The columns ``[a, b)`` of each image's hole (N1HW mask, 1 = hole), which must be one full-height band."""
    n, _, h, w = shape
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] not in (1, n) or tuple(mask.shape[-2:]) != (h, w):
        raise InvalidArgumentError(f"bct_blend: mask must be N1HW matching the image {tuple(shape)}, "
                                   f"got {tuple(mask.shape)}")
    holes = mask > 0.5
    cols = holes.any(dim=2)[:, 0]  # NW
    if not bool(torch.equal(cols, holes.all(dim=2)[:, 0])):
        raise InvalidArgumentError("bct_blend fills one full-height band of columns (the gap between two photos), "
                                   "not a free-form hole")
    bands = []
    for row in cols.cpu():
        idx = torch.nonzero(row).flatten()
        if idx.numel() == 0:
            raise InvalidArgumentError("bct_blend: the mask has no gap")
        a, b = int(idx[0]), int(idx[-1]) + 1
        if idx.numel() != b - a:
            raise InvalidArgumentError("bct_blend: the gap must be one band of adjacent columns")
        bands.append((a, b))
    return bands * n if len(bands) == 1 else bands


class BCTDiscriminator(nn.Module):
    """The official global discriminator: four 4x4 stride-2 convs and a linear layer, for one input size."""

    def __init__(self, height: int = 256, width: int = 768, base: int = 64) -> None:
        super().__init__()
        if height % 16 or width % 16 or height < 16 or width < 16:
            raise ConfigError(f"bct_blend discriminator: input sides must be multiples of 16, got {height}x{width}")
        self.size = (height, width)
        b = base
        self.conv1 = nn.Sequential(nn.Conv2d(3, b, 4, 2, 1), nn.LeakyReLU(0.2))
        self.conv2 = nn.Sequential(nn.Conv2d(b, 2 * b, 4, 2, 1), nn.InstanceNorm2d(2 * b), nn.LeakyReLU(0.2))
        self.conv3 = nn.Sequential(nn.Conv2d(2 * b, 4 * b, 4, 2, 1), nn.InstanceNorm2d(4 * b), nn.LeakyReLU(0.2))
        self.conv4 = nn.Sequential(nn.Conv2d(4 * b, 8 * b, 4, 2, 1), nn.InstanceNorm2d(8 * b), nn.LeakyReLU(0.2))
        self.output = nn.Sequential(nn.Linear(8 * b * (height // 16) * (width // 16), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One realness score per image (N x 1) for N3HW panoramas in [-1, 1]."""
        if tuple(x.shape[-2:]) != self.size:
            raise InvalidArgumentError(f"bct_blend discriminator was built for {self.size[0]}x{self.size[1]} inputs, "
                                       f"got {tuple(x.shape[-2:])}")
        x = (x + 1.0) * 0.5
        x = self.conv4(self.conv3(self.conv2(self.conv1(x))))
        return self.output(x.flatten(1))


def load_official_bct_blend(source: str | os.PathLike[str] | Mapping[str, Any], **config: Any) -> BCTBlend:
    """Build :class:`BCTBlend` from the authors' ``Gen`` file (``torch.save(gen.state_dict())``
    of ``Generator()`` with the scripts' ``--attention 1``) or a state dict, and load it strictly;
    the names are the official ones, so nothing is remapped. Eval mode, registry name set."""
    from holefill.models.base import load_state_strict, read_official_checkpoint

    data, name = read_official_checkpoint(source, "state_dict")
    data = {k[len("module."):] if k.startswith("module.") else k: v for k, v in data.items()}
    model = bct_blend(**config)
    model.architecture = "bct_blend"
    load_state_strict(model, data, source=name)
    return model.eval()


@register_model(paper="Lu, Chang and Chiu, Bridging the Visual Gap: Wide-Range Image Blending, CVPR 2021",
                code="https://github.com/julia0607/Wide-Range-Image-Blending",
                tiny={"base": 4, "lstm_rows": 1, "skip": (1, 2, 3, 4), "attention": (1, 2, 3, 4)}, tasks=("blend",))
def bct_blend(**cfg: Any) -> BCTBlend:
    """Wide-range blending with Bidirectional Content Transfer (Lu et al., CVPR 2021): two photos -> a panorama."""
    return BCTBlend(build_config(BCTBlendConfig, "bct_blend", cfg))


__all__ = ["BCT", "BCTBlend", "BCTBlendConfig", "BCTDiscriminator", "BCTOutput", "BlendOutput", "STRIDE",
           "band_columns", "bct_blend", "load_official_bct_blend"]
