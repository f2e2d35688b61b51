"""Foreground-aware inpainting: complete the foreground contour first, then the image guided by it.

Paper: Wei Xiong, Jiahui Yu, Zhe Lin, Jimei Yang, Xin Lu, Connelly Barnes, Jiebo Luo,
"Foreground-aware Image Inpainting", CVPR 2019 (arXiv:1901.05945).
Official code: none found (we searched stored GitHub repositories, issues and web pages; the
authors' project page, wxiong.me/foreground, could not be checked here). This is our
implementation from the paper.
Important: the paper's full text could not be opened from this project's machines (only its
title page and abstract were reachable), so the details below marked *(our reading)* follow
our recollection of the paper and the DeepFill v1 code it builds on; check them against the
paper before relying on them for a reproduction.

What the abstract states: the model predicts the foreground contour first, then inpaints
the hole guided by the predicted contour. The parts, as we implement them:

1. Incomplete contour detection. The paper takes the contour of a salient-foreground
   segmentation of the corrupted image, outside the hole *(our reading: an off-the-shelf
   salient-object segmentation network, then an edge operator on its map)*. Here the caller
   supplies the segmentation (``segmentation``, N1HW in {0, 1}, e.g. from a dataset with
   foreground masks) and the contour is the set of pixels where the 3x3 Sobel response of
   the map is non-zero (:func:`segmentation_contour`), kept only where the whole 3x3 window
   is known, so hole content can never leak in.
   **Fallback** when no segmentation is given (always the case at inference through the
   filler, and in training unless the batch carries ``"segmentation"``): Canny edges of the
   known region (sigma 2, scikit-image, the detector EdgeConnect uses;
   :func:`known_region_edges`). That is not a *foreground* contour: without a saliency model
   the network is guided by all strong edges, i.e. it behaves like an edge-guided inpainter
   (EdgeConnect-style) rather than a foreground-aware one. We ship no saliency network
   because nothing may be downloaded at run time.
2. Contour completion module *(our reading: coarse and refinement contour generators built
   on DeepFill v1)*: a coarse contour generator and a refinement contour generator with the
   coarse-to-fine layout of DeepFill v1 (plain convs + ELU, dilated middle; see
   :mod:`holefill.models.deepfill_v1`). Input: the image with the hole zeroed, ones, the
   mask and the incomplete contour (6 channels); output one channel, squashed by a sigmoid
   to a contour probability. The refinement sees the coarse contour pasted into the hole.
   The contour refinement has no contextual attention *(our choice: contours are thin lines
   with no texture to copy)*; ``contour_attention=True`` gives it DeepFill v1's attention
   branch as well.
3. Image completion module *(our reading: DeepFill v1 conditioned on the contour)*: DeepFill
   v1's coarse-to-fine generator with contextual attention (ksize 3, rate 2, fuse 3, scale
   10), whose inputs carry the completed contour (the refined
   contour inside the hole, the input contour outside) as a sixth channel in both stages;
   outputs clipped to [-1, 1] as DeepFill v1.

The forward pass returns the refined image (``output``), the coarse image (``coarse``), the
refined and coarse contours (``contour``, ``coarse_contour``, probabilities over the whole
image), the contour it was given (``input_contour``) and, on request, the attention offsets.

Parameters at the defaults (cnum 32 for both modules): 6,363,080. Contour module 2,759,138
(coarse 1,448,737, refinement 1,310,401 without attention; 7,207,304 in all with
``contour_attention``); image module 3,603,942 (coarse 1,449,027, refinement 2,154,915: DeepFill
v1's 3,601,542 plus 5x5x32 weights for the contour channel in ``conv1``, ``xconv1`` and
``pmconv1``). There is no official count to compare with.

Deviations and choices (beyond the reading notes above):

- Contours are probabilities in [0, 1]; the image module reads them as a [0, 1] channel.
- The image module's layout and initialisation, and every deviation of
  :mod:`holefill.models.deepfill_v1` (RGB, per-image masks, exact chunked attention, TF-default
  init, sizes multiple of 8), apply here too.
- ``contour`` given to ``forward`` directly replaces both the segmentation and the fallback
  (it is used outside the hole only).

Training (the recipe is :mod:`holefill.train.recipes.foreground_aware`; see its docstring for
the numbers and where each comes from): the contour module trains first with a hole-weighted
contour loss and a curriculum that adds the contour discriminator's adversarial loss later,
then the image module (L1 + WGAN-GP as DeepFill v1), then both jointly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.layers.contextual_attention import resize_nearest_tf
from holefill.models.base import InpaintModel, InpaintOutput, check_inputs
from holefill.models.deepfill_v1 import (
    CoarseNetworkV1,
    RefineNetworkV1,
    channels_last,
    check_v1_settings,
    make_attention,
)
from holefill.models.edgeconnect import canny_edges, to_gray
from holefill.models.registry import build_config, register_model

_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


def segmentation_contour(segmentation: torch.Tensor) -> torch.Tensor:
    """The contour of a foreground map (N1HW, values in [0, 1]): 1 where its 3x3 Sobel response
    is non-zero, else 0. Borders are replicated, so the image frame is no contour."""
    if segmentation.dim() != 4 or segmentation.shape[1] != 1:
        raise InvalidArgumentError(f"segmentation must be N1HW, got shape {tuple(segmentation.shape)}")
    seg = (segmentation.float() > 0.5).float()
    kx = seg.new_tensor(_SOBEL_X).view(1, 1, 3, 3)
    padded = F.pad(seg, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, kx)
    gy = F.conv2d(padded, kx.transpose(-1, -2))
    return ((gx.abs() + gy.abs()) > 0).to(segmentation.dtype if segmentation.is_floating_point() else torch.float32)


def fully_known(mask: torch.Tensor) -> torch.Tensor:
    """1 where a pixel's whole 3x3 neighbourhood is known (the mask, 1 = hole, eroded away)."""
    return 1.0 - F.max_pool2d(mask, kernel_size=3, stride=1, padding=1)


def incomplete_contour(segmentation: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The contour of the segmentation where the 3x3 Sobel window lies wholly outside the hole."""
    return segmentation_contour(segmentation) * fully_known(mask)


def known_region_edges(image: torch.Tensor, mask: torch.Tensor, sigma: float = 2.0) -> torch.Tensor:
    """The fallback contour: Canny edges (0/1) of the known region of ``image`` (N3HW, [-1, 1])."""
    known = 1.0 - mask
    gray = to_gray((image * known + 1.0) * 0.5)
    return canny_edges(gray, known, sigma) * known


@dataclass
class ForegroundAwareConfig:
    """Settings of the foreground-aware generator (see the module docstring)."""

    #: Base width of the image completion module (DeepFill v1's 32).
    cnum: int = 32
    #: Base width of the contour completion module.
    contour_cnum: int = 32
    #: Give the contour refinement DeepFill v1's contextual-attention branch too.
    contour_attention: bool = False
    #: Gaussian sigma of the Canny fallback (no segmentation given).
    edge_sigma: float = 2.0
    attention_ksize: int = 3
    attention_stride: int = 1
    attention_rate: int = 2
    attention_fuse_k: int = 3
    attention_softmax_scale: float = 10.0
    attention_fuse: bool = True
    #: Score entries (batch x queries x keys) held at once by each attention; bounds memory.
    attention_chunk: int = 2**24

    def __post_init__(self) -> None:
        for width in (self.cnum, self.contour_cnum):
            check_v1_settings("foreground_aware", width, self.attention_ksize, self.attention_stride,
                              self.attention_rate, self.attention_fuse_k, self.attention_chunk)
        if not self.edge_sigma > 0:
            raise ConfigError(f"foreground_aware: edge_sigma must be positive, got {self.edge_sigma}")


@dataclass
class ForegroundAwareOutput(InpaintOutput):
    """Image stages (``output`` refined, ``coarse``) and contour stages (probabilities in [0, 1]).

    ``input_contour`` is the incomplete contour the modules were given (zero in the hole);
    ``offsets`` the image module's attention offsets when asked for (``return_flow=True``).
    """

    coarse: torch.Tensor
    contour: torch.Tensor
    coarse_contour: torch.Tensor
    input_contour: torch.Tensor
    offsets: torch.Tensor | None = None


class ForegroundAware(InpaintModel):
    """Contour completion (coarse + refine), then DeepFill v1 image completion guided by the contour."""

    size_multiple = 8

    def __init__(self, config: ForegroundAwareConfig) -> None:
        super().__init__(config)
        self.config: ForegroundAwareConfig = config
        c = config

        def attention():  # noqa: ANN202
            return make_attention(c.attention_ksize, c.attention_stride, c.attention_rate, c.attention_fuse_k,
                                  c.attention_softmax_scale, c.attention_fuse, c.attention_chunk)

        self.contour_coarse = CoarseNetworkV1(6, c.contour_cnum, out_channels=1)
        self.contour_refine = RefineNetworkV1(6, c.contour_cnum, attention() if c.contour_attention else None,
                                              out_channels=1)
        self.coarse = CoarseNetworkV1(6, c.cnum)
        self.refine = RefineNetworkV1(6, c.cnum, attention())

    # -- the parts, usable on their own (the training recipe calls them) ---------------------------
    def detect_contour(self, image: torch.Tensor, mask: torch.Tensor,
                       segmentation: torch.Tensor | None = None) -> torch.Tensor:
        """The incomplete contour (N1HW, 0 in the hole): the segmentation's, else Canny edges."""
        if segmentation is None:
            return known_region_edges(image, mask, self.config.edge_sigma)
        if segmentation.dim() != 4 or segmentation.shape[1] != 1 or segmentation.shape[-2:] != mask.shape[-2:]:
            raise InvalidArgumentError(f"foreground_aware: segmentation must be N1HW like the mask "
                                       f"{tuple(mask.shape)}, got {tuple(segmentation.shape)}")
        seg = segmentation.to(image.dtype).expand_as(mask)
        return incomplete_contour(seg * (1.0 - mask), mask)

    def complete_contour(self, image: torch.Tensor, mask: torch.Tensor, contour: torch.Tensor,
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """(coarse, refined) contour probabilities from the hole-zeroed image and the incomplete contour."""
        h, w = image.shape[-2:]
        ones = torch.ones_like(mask)
        coarse = torch.sigmoid(self.contour_coarse(channels_last(torch.cat([image, ones, mask, contour], dim=1))))
        pasted = coarse * mask + contour * (1.0 - mask)
        mask_small = resize_nearest_tf(mask, (h // 4, w // 4))
        refined, _ = self.contour_refine(channels_last(torch.cat([image, ones, mask, pasted], dim=1)), mask_small)
        return coarse.contiguous(), torch.sigmoid(refined).contiguous()

    def complete_image(self, image: torch.Tensor, mask: torch.Tensor, guide: torch.Tensor, *,
                       return_flow: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(coarse, refined, offsets): DeepFill v1 on the hole-zeroed image with a contour channel."""
        h, w = image.shape[-2:]
        known = 1.0 - mask
        ones = torch.ones_like(mask)
        coarse = self.coarse(channels_last(torch.cat([image, ones, mask, guide], dim=1))).clamp(-1.0, 1.0)
        composite = coarse * mask + image * known
        mask_small = resize_nearest_tf(mask, (h // 4, w // 4))
        fine, offsets = self.refine(channels_last(torch.cat([composite, ones, mask, guide], dim=1)), mask_small,
                                    return_flow)
        return coarse.contiguous(), fine.clamp(-1.0, 1.0).contiguous(), offsets

    def graph_inputs(self, image: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """The fallback contour, Canny edges of the known region (``contour``), which no
        exported graph computes."""
        mask = mask.to(image.dtype).expand(image.shape[0], 1, *image.shape[-2:])
        return {"contour": self.detect_contour(image * (1.0 - mask), mask)}

    def forward(self, image: torch.Tensor, mask: torch.Tensor, segmentation: torch.Tensor | None = None,
                contour: torch.Tensor | None = None, *, return_flow: bool = False) -> ForegroundAwareOutput:
        """Fill ``image`` (N3HW, [-1, 1]) where ``mask`` (N1HW, 1 = hole) is set; H, W multiples of 4.

        ``segmentation`` (N1HW foreground map) gives the incomplete contour; without it the
        Canny edges of the known region stand in (see the module docstring). ``contour``
        (N1HW) replaces both.
        """
        check_inputs("foreground_aware", image, mask)
        n, _, h, w = image.shape
        mask = mask.to(image.dtype).expand(n, 1, h, w)
        known = 1.0 - mask
        image = image * known
        if contour is not None:
            if contour.dim() != 4 or contour.shape[1] != 1 or contour.shape[-2:] != mask.shape[-2:]:
                raise InvalidArgumentError(f"foreground_aware: contour must be N1HW like the mask {tuple(mask.shape)}, "
                                           f"got {tuple(contour.shape)}")
            given = contour.to(image.dtype).expand_as(mask) * known
        else:
            given = self.detect_contour(image, mask, segmentation)
        coarse_contour, refined_contour = self.complete_contour(image, mask, given)
        guide = refined_contour * mask + given * known
        coarse, fine, offsets = self.complete_image(image, mask, guide, return_flow=return_flow)
        return ForegroundAwareOutput(output=fine, coarse=coarse, contour=refined_contour,
                                     coarse_contour=coarse_contour, input_contour=given, offsets=offsets)


@register_model(paper="Xiong et al., Foreground-aware Image Inpainting, CVPR 2019",
                code="none released; built on https://github.com/JiahuiYu/generative_inpainting (v1.0.0)",
                tiny={"cnum": 8, "contour_cnum": 4})
def foreground_aware(**cfg: Any) -> ForegroundAware:
    """Foreground-aware inpainting (Xiong et al., CVPR 2019): contour completion, then contour-guided DeepFill v1."""
    return ForegroundAware(build_config(ForegroundAwareConfig, "foreground_aware", cfg))


__all__ = ["ForegroundAware", "ForegroundAwareConfig", "ForegroundAwareOutput", "foreground_aware",
           "incomplete_contour", "known_region_edges", "segmentation_contour"]
