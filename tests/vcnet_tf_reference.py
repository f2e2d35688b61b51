"""The official VCNet generator as its TF1 graph defines it, for the conversion test.

Transcribed from github.com/shepnerd/blindinpainting_vcnet, ``tensorflow_version``:
``VCNModel.build_net`` in ``net/generator.py`` (lines 31-99) and, from ``net/ops.py`` (the
module generator.py imports), ``resblock`` (lines 102-115), ``context_resblock`` (68-99) and
``context_normalization`` (17-32). Everything works the TF way, on NHWC float64 arrays with
HWIO kernels, and shares no code with holefill's model or converter (the convolution and the
align-corners nearest resize come from tests/deepfill_tf_reference.py):

- the mask branch: ``resblock`` = conv (stride, rate) + ELU, conv (rate), plus a 1x1 conv of
  the same stride, ELU of the sum; ``mask_conv8`` reads ``mask_conv4_atrous``'s output;
- ``clip(mask_logit, 0, 1)`` is the mask (``--phase tune``, the test default), unless one is
  given (``--phase acc``); ``--embrace`` zeroes it in the input;
- ``context_resblock`` with ``debug='v1'``: conv (stride, rate) + ELU, conv (rate), context
  normalisation, 1x1 shortcut, ELU of the sum; with ``debug='old'`` (``cmp_conv5_atrous`` and
  ``cmp_conv6_atrous``, which pass no ``debug``): conv + ELU, conv with the *same stride*
  (1 in both calls), context normalisation, ELU, no shortcut;
- context normalisation: the mask resized by TF1's default nearest neighbour (``floor(y *
  in / out)``), the known and hole statistics summed over every pixel of ``x * w - mean``,
  ``tf.nn.batch_normalization`` written out;
- the fusion: ``mask_conv5_atrous`` resized bilinearly with ``align_corners=True``,
  concatenated after ``cmp_deconv101``; the output clipped to [-1, 1].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from deepfill_tf_reference import tf_conv, tf_resize_nearest_align

SCOPE = "blind_inpaint_net"


def _resize_nearest(x: torch.Tensor, oh: int, ow: int) -> torch.Tensor:
    """TF1 ``resize_nearest_neighbor`` with its defaults (no align corners): ``floor(y * in / out)``."""
    def idx(n_in: int, n_out: int) -> torch.Tensor:
        return torch.from_numpy(np.minimum(np.floor(np.arange(n_out) * (n_in / n_out)).astype(np.int64), n_in - 1))
    return x[:, idx(x.shape[1], oh)][:, :, idx(x.shape[2], ow)]


def _resize_bilinear_align(x: torch.Tensor, oh: int, ow: int) -> torch.Tensor:
    """TF1 ``resize_bilinear(align_corners=True)`` on NHWC: source ``y * (in - 1) / (out - 1)``, lerp."""
    def axis(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pos = np.arange(n_out) * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return torch.from_numpy(lo), torch.from_numpy(hi), torch.from_numpy(pos - lo)

    y0, y1, fy = axis(x.shape[1], oh)
    x0, x1, fx = axis(x.shape[2], ow)
    top = x[:, y0][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y0][:, :, x1] * fx[None, None, :, None]
    bottom = x[:, y1][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y1][:, :, x1] * fx[None, None, :, None]
    return top * (1 - fy)[None, :, None, None] + bottom * fy[None, :, None, None]


def _context_normalization(x: torch.Tensor, mask: torch.Tensor, alpha: float, eps: float = 1e-5) -> torch.Tensor:
    h, w = x.shape[1:3]
    known = _resize_nearest(1 - mask[..., 0:1], h, w)
    known_cnt = known.sum((1, 2), keepdim=True).clamp_min(eps)
    known_mean = (x * known).sum((1, 2), keepdim=True) / known_cnt
    known_var = ((x * known - known_mean) ** 2).sum((1, 2), keepdim=True) / known_cnt
    hole = 1 - known
    hole_cnt = hole.sum((1, 2), keepdim=True).clamp_min(eps)
    hole_mean = (x * hole).sum((1, 2), keepdim=True) / hole_cnt
    hole_var = ((x * hole - hole_mean) ** 2).sum((1, 2), keepdim=True) / hole_cnt
    # tf.nn.batch_normalization(x, mean, variance, offset, scale, eps)
    normalised = (x * hole - hole_mean) / torch.sqrt(hole_var + eps) * torch.sqrt(known_var) + known_mean
    unknown = alpha * normalised + (1 - alpha) * x * hole
    return unknown * hole + x * known


class _Graph:
    def __init__(self, variables: dict[str, np.ndarray], rho: float) -> None:
        self.v = {k: torch.from_numpy(np.asarray(a, dtype=np.float64)) for k, a in variables.items()}
        self.rho = rho

    def conv(self, x: torch.Tensor, scope: str, stride: int = 1, rate: int = 1) -> torch.Tensor:
        return tf_conv(x, self.v[f"{SCOPE}/{scope}/kernel"], self.v[f"{SCOPE}/{scope}/bias"], stride, rate)

    def resblock(self, x: torch.Tensor, name: str, stride: int = 1, rate: int = 1) -> torch.Tensor:
        b = F.elu(self.conv(x, f"{name}/c1", stride, rate))
        b = self.conv(b, f"{name}/c2", 1, rate)
        return F.elu(self.conv(x, f"{name}/c3", stride) + b)

    def context_resblock(self, x: torch.Tensor, mask: torch.Tensor | None, name: str, stride: int = 1, rate: int = 1,
                         debug: str = "v1") -> torch.Tensor:
        if debug == "old":
            b = F.elu(self.conv(x, f"{name}/c1", stride, rate))
            b = self.conv(b, f"{name}/c2", stride, rate)
            if mask is not None:
                b = _context_normalization(b, mask, self.rho)
            return F.elu(b)
        b = F.elu(self.conv(x, f"{name}/c1", stride, rate))
        b = self.conv(b, f"{name}/c2", 1, rate)
        if mask is not None:
            b = _context_normalization(b, mask, self.rho)
        return F.elu(self.conv(x, f"{name}/c3", stride) + b)


def reference_forward(variables: dict[str, np.ndarray], image: np.ndarray, mask: np.ndarray | None = None, *,
                      rho: float = 0.5, embrace: bool = False) -> dict[str, np.ndarray]:
    """The official graph on one HxWx3 RGB image in [-1, 1]: HWC arrays ``fill`` (the network's
    output), ``mask_logit``, ``mask_pred`` (``clip(logit, 0, 1)``) and ``complete``
    (``fill * mask_pred + image * (1 - mask_pred)``, as ``evaluate`` composes). ``mask`` (HxW,
    1 = hole) is the ``--phase acc`` input; without it the predicted mask drives the RIN."""
    g = _Graph(variables, rho)
    xin = torch.from_numpy(np.asarray(image, dtype=np.float64))[None]
    xh, xw = xin.shape[1:3]
    x = g.resblock(xin, "mask_conv2", stride=2)
    x = g.resblock(x, "mask_conv3", stride=2)
    x = g.resblock(x, "mask_conv4_atrous", rate=2)
    mx_feat = g.resblock(x, "mask_conv5_atrous", rate=4)
    xb3 = _resize_bilinear_align(mx_feat, xh, xw)
    x = F.elu(g.conv(x, "mask_conv8"))
    x = tf_resize_nearest_align(x, xh // 2, xw // 2)
    x = g.resblock(x, "mask_deconv9")
    x = tf_resize_nearest_align(x, xh, xw)
    x = g.resblock(x, "mask_deconv10")
    x = F.elu(g.conv(x, "mask_compress_conv"))
    mask_logit = g.conv(x, "mask_output")
    mask_pred = mask_logit.clamp(0.0, 1.0)
    used = mask_pred if mask is None else torch.from_numpy(np.asarray(mask, dtype=np.float64))[None, :, :, None]
    if embrace:
        xin = xin * (1 - used)
    x = g.context_resblock(xin, used, "cmp_conv1")
    x = g.context_resblock(x, used, "cmp_conv2", stride=2)
    x = g.context_resblock(x, used, "cmp_conv21")
    x = g.context_resblock(x, used, "cmp_conv3", stride=2)
    x = g.context_resblock(x, used, "cmp_conv31")
    x = g.context_resblock(x, used, "cmp_conv4_atrous", rate=2)
    x = g.context_resblock(x, used, "cmp_conv5_atrous", rate=2, debug="old")
    x = g.context_resblock(x, used, "cmp_conv6_atrous", rate=4, debug="old")
    x = g.context_resblock(x, used, "cmp_conv7_atrous", rate=4)
    x = g.context_resblock(x, used, "cmp_conv8")
    x = tf_resize_nearest_align(x, xh // 2, xw // 2)
    x = g.context_resblock(x, used, "cmp_deconv9")
    x = g.context_resblock(x, used, "cmp_deconv91")
    x = tf_resize_nearest_align(x, xh, xw)
    x = g.context_resblock(x, used, "cmp_deconv10")
    xb1 = g.context_resblock(x, used, "cmp_deconv101")
    x = F.elu(g.conv(torch.cat([xb1, xb3], dim=-1), "cmp_compress_conv1"))
    x = F.elu(g.conv(x, "cmp_compress_conv2"))
    fill = g.conv(x, "cmp_output").clamp(-1.0, 1.0)
    complete = fill * mask_pred + torch.from_numpy(np.asarray(image, dtype=np.float64))[None] * (1 - mask_pred)
    return {"fill": fill[0].numpy(), "mask_logit": mask_logit[0].numpy(), "mask_pred": mask_pred[0].numpy(),
            "complete": complete[0].numpy()}
