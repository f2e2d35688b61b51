"""EdgeConnect: an edge generator hallucinates the hole's edges, an image generator fills it.

Paper: K. Nazeri, E. Ng, T. Joseph, F. Z. Qureshi and M. Ebrahimi, "EdgeConnect: Generative
Image Inpainting with Adversarial Edge Learning", ICCV Workshops 2019 (arXiv:1901.00212).
Official code: https://github.com/knazeri/edge-connect (``src/networks.py``,
``src/models.py``, ``src/dataset.py``, ``src/loss.py``, ``config.yml.example``).

Architecture (checked against ``src/networks.py``). Both generators are the same ResNet-style
encoder-decoder: reflection pad 3 + 7x7 conv (64), two stride-2 4x4 convs (128, 256), eight
residual blocks at 256 channels (reflection pad + 3x3 conv with dilation 2, instance norm,
ReLU, reflection pad + 3x3 conv, instance norm; identity shortcut, no ReLU after the sum), two
stride-2 4x4 transposed convs (128, 64), reflection pad 3 + 7x7 conv. Instance norm has no
affine parameters and no running statistics; every other layer is followed by ReLU.

- Edge generator G1: input [grayscale with the hole set to 1, Canny edges of the known region,
  mask] (3 channels), spectral norm on every conv but the last, no bias in the residual
  blocks' convs (the official code drops it where spectral norm is on), output sigmoid: an
  edge probability map in [0, 1].
- Inpainting generator G2: input [RGB in [0, 1] with the hole set to 1, edge map] (4
  channels), no spectral norm, biases everywhere, output ``(tanh(x) + 1) / 2`` in the official
  code. Our convention is [-1, 1], and ``2 * ((tanh(x) + 1) / 2) - 1 = tanh(x)``, so the model
  returns ``tanh(x)``: the same prediction, rescaled.

Inputs: the networks see what the official ones saw, so official weights work unchanged:
``image`` in [-1, 1] is mapped to [0, 1] inside :meth:`EdgeConnect.forward`, the grayscale is
scikit-image's ``rgb2gray`` (0.2125 R + 0.7154 G + 0.0721 B), and holes are filled with 1
(white) as in ``EdgeModel.forward`` / ``InpaintingModel.forward``.

Edges: the edge input is derived from the image. :func:`canny_edges` runs
``skimage.feature.canny`` with sigma 2 on the grayscale in [0, 1] (float64, default
thresholds 0.1 / 0.2) with ``mask=`` the known region, as the official code does at test time
(``dataset.py: load_edge``), so hole content never reaches the detector (scikit-image
normalises its Gaussian by the mask), and then zeroes any edge inside the hole (as
``EdgeModel.forward`` does). ``forward(image, mask, edges=...)`` accepts precomputed edges
(N1HW in [0, 1], e.g. from HED as the official ``EDGE: 2`` option); they are masked the same
way. Canny is not differentiable and runs on the CPU in NumPy.

Parameters (verified by instantiating the official modules): edge generator 10,761,089,
inpainting generator 10,774,595 (ours: identical, 21,535,684 together); edge discriminator
2,762,752, inpainting discriminator 2,763,776 (ours: identical). Spectral norm's power
iteration vectors are buffers, not parameters. The official ``nn.utils.spectral_norm`` stores
``<conv>.weight_orig`` (the parameter), ``<conv>.weight_u`` and ``<conv>.weight_v``
(buffers); we use ``nn.utils.parametrizations.spectral_norm`` (PyTorch's current API), whose
keys are ``<conv>.parametrizations.weight.original`` and ``...weight.0._u`` / ``._v``, with the
same meaning, so :func:`load_official_edgeconnect` maps one onto the other.

Deviations from the official code:

1. Output scaled to [-1, 1] (``tanh(x)`` instead of ``(tanh(x) + 1) / 2``), see above.
2. Spectral norm is PyTorch's parametrization rather than the legacy hook (same computation:
   one power iteration per training forward, stored ``u``/``v`` in eval mode; different
   state-dict key names, mapped by the loader).
3. Layer names are ours (``stem``, ``down1``, ``down2``, ``blocks.i.conv1/conv2``, ``up1``,
   ``up2``, ``head``) instead of ``nn.Sequential`` indices; the loader maps them.
4. Inference edge handling: by default the inpainting generator gets the edge generator's raw
   output, as the official ``test()`` does for models 3 and 4; ``composite_edges=True`` pastes
   the known region's Canny edges outside the hole first, as the official stage-3 training
   loop does. The official code's ``EDGE: 2`` (external edges) and random sigma (``SIGMA: 0``)
   are not options of the model; pass ``edges=`` instead.
5. The discriminators return raw logits by default (``use_sigmoid=False``) because
   :mod:`holefill.losses` takes logits; the official non-saturating loss is sigmoid + BCE,
   which equals BCE-with-logits. ``use_sigmoid=True`` restores the official output.
6. scikit-image 0.26 instead of 0.14: its ``canny`` handles the mask the same way (Gaussian
   normalised by the smoothed mask, mask eroded by one pixel); tiny differences at image
   borders between versions are possible.

Training (for the recipe; official ``config.yml.example`` and ``src/models.py`` unless a
paper section is named):

- Data: 256x256 crops (``INPUT_SIZE: 256``, centre square crop then resize), random
  horizontal flip, batch 8. Edges for training are Canny (sigma 2) of the *whole* ground-truth
  grayscale (``mask=None`` while training); the edge generator's input edges are those times
  ``(1 - mask)``.
- Masks: ``MASK: 3`` external irregular masks (Liu et al. 2018, the Partial Convolutions mask
  set; the README also suggests the QD-IMD masks) in the example config; ``MASK: 4`` mixes
  external masks and a random block 50/50; a random block is a half-width, half-height
  rectangle at a uniformly random position (``utils.create_mask``).
- Stage 1, edge model (``MODEL: 1``): G1 with D1 (``EdgeConnectDiscriminator(in_channels=2)``
  fed ``cat(gray, edges)``; real = ground-truth Canny edges, fake = G1's full output).
  Generator loss: non-saturating adversarial (x1) + feature matching x10 (``FM_LOSS_WEIGHT``),
  the L1 distance between D1's five feature maps on fake and real, summed over layers. The
  discriminator loss is ``(real + fake) / 2`` (``d_weight=0.5`` in :mod:`holefill.losses`).
- Stage 2, inpainting model (``MODEL: 2``): G2 with D2 (``in_channels=3``, real images vs
  G2's raw output, not composited), ground-truth Canny edges as G2's edge input. Generator
  loss: L1 over the whole image divided by ``mean(mask)`` (x1, ``L1_LOSS_WEIGHT``;
  :class:`holefill.losses.MaskedL1` with ``normalize="hole"``), perceptual x0.1
  (``CONTENT_LOSS_WEIGHT``; VGG-19 relu1_1..relu5_1, weights 1, L1, on the raw output),
  style x250 (``STYLE_LOSS_WEIGHT``; Gram matrices of relu2_2, relu3_4, relu4_4, relu5_2
  divided by C*H*W, L1, on ``output * mask`` vs ``image * mask``), non-saturating adversarial
  x0.1 (``INPAINT_ADV_LOSS_WEIGHT``). The official VGG sees images in [0, 1] without ImageNet
  normalisation.
- Stage 3, edge-inpaint (``MODEL: 3``): G1 frozen; G2 trained as in stage 2 on
  ``G1(...) * mask + edges * (1 - mask)`` (detached). ``MODEL: 4`` (joint) updates both with
  their own losses in one loop. The paper's training setup (Sec. 4; quoted from our reading
  of the paper, not from the code) trains G1 and G2 separately at lr 1e-4 until the losses
  plateau, then at 1e-5 until convergence, then fine-tunes G1 and G2 end to end without D1
  at 1e-6; the official code has no lr schedule, so these steps are manual.
- Optimiser: Adam, lr 1e-4 (``LR``), betas (0.0, 0.9) (``BETA1``, ``BETA2``), discriminator
  lr = 0.1 x generator lr (``D2G_LR``); ``MAX_ITERS: 2e6``; ``GAN_LOSS: nsgan`` (lsgan and
  hinge are options). Weights are initialised N(0, 0.02), biases 0.
- Useful pieces here: :meth:`EdgeConnect.predict_edges` (G1 + sigmoid on the official
  input), :meth:`EdgeConnect.inpaint` (G2 on the official input, output in [-1, 1]),
  :func:`canny_edges` (``known=None`` for the training targets), :func:`to_gray`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError, WeightsError
from holefill.models.base import InpaintModel, InpaintOutput, load_state_strict, read_official_checkpoint
from holefill.models.registry import build_config, register_model

__all__ = [
    "OFFICIAL_EDGE_FILE",
    "OFFICIAL_INPAINT_FILE",
    "EdgeConnect",
    "EdgeConnectConfig",
    "EdgeConnectDiscriminator",
    "EdgeConnectOutput",
    "ResNetGenerator",
    "canny_edges",
    "edgeconnect",
    "load_official_edgeconnect",
    "remap_official_edgeconnect",
    "to_gray",
]

OFFICIAL_EDGE_FILE = "EdgeModel_gen.pth"
OFFICIAL_INPAINT_FILE = "InpaintingModel_gen.pth"

#: scikit-image's ``rgb2gray`` weights (ITU-R BT.709 luma), used by the official data loader.
GRAY_WEIGHTS = (0.2125, 0.7154, 0.0721)


@dataclass
class EdgeConnectConfig:
    """EdgeConnect's options; the defaults are the official networks."""

    #: Width of the first conv; the encoder doubles it twice (64 -> 128 -> 256).
    channels: int = 64
    #: Residual blocks in each generator's bottleneck.
    residual_blocks: int = 8
    #: Dilation of the first conv of each residual block.
    dilation: int = 2
    #: Spectral norm in the edge generator (the official default; never in the image one).
    edge_spectral_norm: bool = True
    #: Standard deviation of Canny's Gaussian (official ``SIGMA: 2``).
    sigma: float = 2.0
    #: Paste the known region's edges outside the hole before the image generator.
    composite_edges: bool = False

    def __post_init__(self) -> None:
        if self.channels < 1 or self.residual_blocks < 0 or self.dilation < 1:
            raise ConfigError("edgeconnect: channels and dilation must be >= 1 and residual_blocks >= 0")
        if not self.sigma > 0:
            raise ConfigError(f"edgeconnect: sigma must be > 0, got {self.sigma}")


@dataclass
class EdgeConnectOutput(InpaintOutput):
    """``output``: the filled image in [-1, 1]; ``edges``: the edge generator's full edge map
    in [0, 1] (1 = edge); ``input_edges``: the known region's edges that went in (no gradient
    when computed by Canny)."""

    edges: torch.Tensor
    input_edges: torch.Tensor


def _conv(conv: nn.Conv2d | nn.ConvTranspose2d, spectral_norm: bool) -> nn.Module:
    """Initialise like the official code (weights N(0, 0.02), biases 0), then wrap in SN."""
    nn.init.normal_(conv.weight, 0.0, 0.02)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return nn.utils.parametrizations.spectral_norm(conv) if spectral_norm else conv


def _norm_relu(x: torch.Tensor) -> torch.Tensor:
    return F.relu(F.instance_norm(x))


class ResidualBlock(nn.Module):
    """Dilated 3x3 conv, IN, ReLU, 3x3 conv, IN, plus the input (reflection padding)."""

    def __init__(self, channels: int, dilation: int, spectral_norm: bool) -> None:
        super().__init__()
        self.dilation = dilation
        self.conv1 = _conv(nn.Conv2d(channels, channels, 3, dilation=dilation, bias=not spectral_norm), spectral_norm)
        self.conv2 = _conv(nn.Conv2d(channels, channels, 3, bias=not spectral_norm), spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dilation
        y = _norm_relu(self.conv1(F.pad(x, (d, d, d, d), mode="reflect")))
        y = F.instance_norm(self.conv2(F.pad(y, (1, 1, 1, 1), mode="reflect")))
        return x + y


class ResNetGenerator(nn.Module):
    """EdgeConnect's generator body; returns the last conv's raw output (no nonlinearity)."""

    def __init__(self, in_channels: int, out_channels: int, channels: int = 64, residual_blocks: int = 8,
                 dilation: int = 2, spectral_norm: bool = False) -> None:
        super().__init__()
        c, sn = channels, spectral_norm
        self.stem = _conv(nn.Conv2d(in_channels, c, 7), sn)
        self.down1 = _conv(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), sn)
        self.down2 = _conv(nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1), sn)
        self.blocks = nn.ModuleList(ResidualBlock(4 * c, dilation, sn) for _ in range(residual_blocks))
        self.up1 = _conv(nn.ConvTranspose2d(4 * c, 2 * c, 4, stride=2, padding=1), sn)
        self.up2 = _conv(nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), sn)
        self.head = _conv(nn.Conv2d(c, out_channels, 7), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _norm_relu(self.stem(F.pad(x, (3, 3, 3, 3), mode="reflect")))
        x = _norm_relu(self.down1(x))
        x = _norm_relu(self.down2(x))
        for block in self.blocks:
            x = block(x)
        x = _norm_relu(self.up1(x))
        x = _norm_relu(self.up2(x))
        return self.head(F.pad(x, (3, 3, 3, 3), mode="reflect"))


class EdgeConnectDiscriminator(nn.Module):
    """EdgeConnect's PatchGAN: five 4x4 convs (strides 2, 2, 2, 1, 1; widths 64-512, then 1),
    LeakyReLU(0.2) between them, spectral norm (and then no biases) by default.

    Inputs: ``cat(gray, edges)`` (2 channels) for the edge model, RGB (3) for the image model.
    Returns ``(scores, features)``: the N1hw patch scores (logits unless ``use_sigmoid``) and
    the five layers' outputs for the feature-matching loss (the last is the pre-sigmoid score).
    """

    def __init__(self, in_channels: int = 3, channels: int = 64, spectral_norm: bool = True,
                 use_sigmoid: bool = False) -> None:
        super().__init__()
        self.use_sigmoid = use_sigmoid
        widths = [in_channels, channels, 2 * channels, 4 * channels, 8 * channels, 1]
        strides = [2, 2, 2, 1, 1]
        self.convs = nn.ModuleList(
            _conv(nn.Conv2d(widths[i], widths[i + 1], 4, stride=strides[i], padding=1, bias=not spectral_norm),
                  spectral_norm)
            for i in range(5))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < 4:
                x = F.leaky_relu(x, 0.2)
            features.append(x)
        return (torch.sigmoid(x) if self.use_sigmoid else x), features


def to_gray(image01: torch.Tensor) -> torch.Tensor:
    """N3HW RGB in [0, 1] to N1HW luma in [0, 1] with scikit-image's ``rgb2gray`` weights."""
    w = image01.new_tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
    return (image01 * w).sum(dim=1, keepdim=True)


def canny_edges(gray: torch.Tensor, known: torch.Tensor | None = None, sigma: float = 2.0) -> torch.Tensor:
    """Canny edges (0/1 float, N1HW) of a grayscale N1HW in [0, 1], as the official loader.

    ``known`` (N1HW, 1 = known pixel) restricts detection to the known region, so the
    detector never sees hole content; None detects on the whole image (training targets).
    """
    from skimage.feature import canny

    if gray.dim() != 4 or gray.shape[1] != 1:
        raise InvalidArgumentError(f"canny_edges: gray must be N1HW, got {tuple(gray.shape)}")
    if known is not None and known.shape != gray.shape:
        raise InvalidArgumentError(f"canny_edges: known must be {tuple(gray.shape)}, got {tuple(known.shape)}")
    g = gray.detach().to("cpu", torch.float64).numpy()
    k = None if known is None else known.detach().cpu().numpy() > 0.5
    out = np.stack([canny(g[i, 0], sigma=sigma, mask=None if k is None else k[i, 0]) for i in range(g.shape[0])])
    return torch.from_numpy(out[:, None].astype(np.float32)).to(gray.device)


class EdgeConnect(InpaintModel):
    """Edge generator, then inpainting generator guided by the predicted edges."""

    size_multiple = 4
    needs_context = True

    def __init__(self, config: EdgeConnectConfig) -> None:
        super().__init__(config)
        c = config
        self.edge_generator = ResNetGenerator(3, 1, c.channels, c.residual_blocks, c.dilation,
                                              spectral_norm=c.edge_spectral_norm)
        self.inpaint_generator = ResNetGenerator(4, 3, c.channels, c.residual_blocks, c.dilation,
                                                 spectral_norm=False)

    def predict_edges(self, gray: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """G1 on the official input: gray (N1HW in [0, 1]) with the hole set to 1, the edges
        outside the hole, and the mask. Returns the full edge map in [0, 1]."""
        known = 1.0 - mask
        x = torch.cat([gray * known + mask, edges * known, mask], dim=1)
        return torch.sigmoid(self.edge_generator(x))

    def inpaint(self, image: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """G2 on the official input: RGB in [0, 1] with the hole set to 1, and an edge map.
        ``image`` is in [-1, 1] and so is the result."""
        x01 = (image + 1.0) * 0.5
        x = torch.cat([x01 * (1.0 - mask) + mask, edges], dim=1)
        return torch.tanh(self.inpaint_generator(x))

    def detect_edges(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Canny edges of the known region of ``image`` (N3HW in [-1, 1]), zero in the hole."""
        known = 1.0 - mask
        return canny_edges(to_gray((image + 1.0) * 0.5), known, self.config.sigma) * known

    def graph_inputs(self, image: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """The known region's Canny edges (``edges``), which no exported graph computes."""
        return {"edges": self.detect_edges(image, mask)}

    def forward(self, image: torch.Tensor, mask: torch.Tensor,
                edges: torch.Tensor | None = None) -> EdgeConnectOutput:
        """Fill ``image`` (N3HW, [-1, 1]) where ``mask`` (N1HW) is 1.

        ``edges`` (N1HW in [0, 1]) replaces the Canny edges computed from the image; either
        way only the known region's edges are used.
        """
        if edges is None:
            edges = self.detect_edges(image, mask)
        elif edges.shape != mask.shape:
            raise InvalidArgumentError(f"edges must have the mask's shape {tuple(mask.shape)}, "
                                       f"got {tuple(edges.shape)}")
        known = 1.0 - mask
        edges = edges * known
        predicted = self.predict_edges(to_gray((image + 1.0) * 0.5), edges, mask)
        guide = predicted * mask + edges if self.config.composite_edges else predicted
        return EdgeConnectOutput(output=self.inpaint(image, guide, mask), edges=predicted, input_edges=edges)


@register_model(paper="Nazeri et al., EdgeConnect: Generative Image Inpainting with Adversarial Edge Learning, "
                      "ICCV Workshops 2019",
                code="https://github.com/knazeri/edge-connect",
                tiny={"channels": 8, "residual_blocks": 1})
def edgeconnect(**cfg: Any) -> EdgeConnect:
    """EdgeConnect (2019): Canny edges, an edge generator, then an edge-guided image generator."""
    return EdgeConnect(build_config(EdgeConnectConfig, "edgeconnect", cfg))


# -- official checkpoints ------------------------------------------------------------------

#: Official ``nn.Sequential`` index -> our layer, for both generators.
_OFFICIAL_LAYERS = {"encoder.1": "stem", "encoder.4": "down1", "encoder.7": "down2",
                    "decoder.0": "up1", "decoder.3": "up2", "decoder.7": "head"}
_OFFICIAL_BLOCK = re.compile(r"^middle\.(\d+)\.conv_block\.([15])$")
#: Legacy spectral-norm tensors -> parametrization tensors.
_SN_SUFFIX = {"weight_orig": "parametrizations.weight.original",
              "weight_u": "parametrizations.weight.0._u",
              "weight_v": "parametrizations.weight.0._v"}




def _remap_generator(state: Mapping[str, torch.Tensor], prefix: str, source: str) -> dict[str, torch.Tensor]:
    """Official generator keys (optionally ``module.``-prefixed) to ours under ``prefix``."""
    out: dict[str, torch.Tensor] = {}
    leftovers = []
    for key, tensor in state.items():
        k = key[len("module."):] if key.startswith("module.") else key
        layer, _, param = k.rpartition(".")
        ours = _OFFICIAL_LAYERS.get(layer)
        block = _OFFICIAL_BLOCK.match(layer)
        if block:
            ours = f"blocks.{block.group(1)}.conv{1 if block.group(2) == '1' else 2}"
        param = _SN_SUFFIX.get(param, param)
        if ours is None or param not in ("weight", "bias") and not param.startswith("parametrizations."):
            leftovers.append(key)
            continue
        out[f"{prefix}{ours}.{param}"] = tensor
    if leftovers:
        raise WeightsError(f"{len(leftovers)} keys match no EdgeConnect layer (e.g. {', '.join(leftovers[:3])})",
                           source)
    has_sn = any(k.endswith("parametrizations.weight.original") for k in out)
    if has_sn and not any(k.endswith("._v") for k in out):
        raise WeightsError("has spectral norm without weight_v (saved by PyTorch < 1.0); "
                           "re-save it with PyTorch >= 1.0", source)
    return out


def remap_official_edgeconnect(edge_state: Mapping[str, torch.Tensor], inpaint_state: Mapping[str, torch.Tensor],
                               sources: tuple[str, str] = ("edge generator", "inpainting generator"),
                               ) -> dict[str, torch.Tensor]:
    """Official ``EdgeModel`` and ``InpaintingModel`` generator state dicts to one
    :class:`EdgeConnect` state dict. Unknown keys are a :class:`WeightsError` naming ``sources``."""
    state = _remap_generator(edge_state, "edge_generator.", sources[0])
    state.update(_remap_generator(inpaint_state, "inpaint_generator.", sources[1]))
    return state


def load_official_edgeconnect(edge: str | os.PathLike[str] | Mapping[str, Any],
                              inpaint: str | os.PathLike[str] | Mapping[str, Any] | None = None,
                              **config: Any) -> EdgeConnect:
    """Build :class:`EdgeConnect` from the authors' checkpoints and load them strictly.

    ``edge`` is ``EdgeModel_gen.pth`` (a ``torch.save({'iteration': ..., 'generator': ...})``
    file) and ``inpaint`` ``InpaintingModel_gen.pth``; or ``edge`` is a folder holding both
    (the official ``checkpoints/<dataset>`` layout) and ``inpaint`` is None. State dicts are
    accepted in place of files. Any unmapped, missing or misshapen tensor is a
    :class:`WeightsError`. The model is returned in eval mode with the registry name set.
    """
    if inpaint is None:
        if isinstance(edge, Mapping):
            raise InvalidArgumentError("load_official_edgeconnect: give the inpainting generator's weights too")
        folder = Path(edge)
        if not folder.is_dir():
            raise InvalidArgumentError(f"is not a folder; give a folder holding {OFFICIAL_EDGE_FILE} and "
                                       f"{OFFICIAL_INPAINT_FILE}, or both file paths", folder)
        edge, inpaint = folder / OFFICIAL_EDGE_FILE, folder / OFFICIAL_INPAINT_FILE
    edge_state, edge_name = read_official_checkpoint(edge, "generator")
    inpaint_state, inpaint_name = read_official_checkpoint(inpaint, "generator")
    model = edgeconnect(**config)
    model.architecture = "edgeconnect"
    state = remap_official_edgeconnect(edge_state, inpaint_state, (edge_name, inpaint_name))
    load_state_strict(model, state, source=f"{edge_name} + {inpaint_name}")
    return model.eval()
