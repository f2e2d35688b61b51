"""The official DeepFill v1/v2 generators as the TF graphs define them, for conversion tests.

Transcribed from github.com/JiahuiYu/generative_inpainting: ``build_inpaint_net`` in
``inpaint_model.py`` (tag v1.0.0, lines 30-111; branch v2.0.0, lines 28-109) and
``gen_conv``/``gen_deconv`` in ``inpaint_ops.py``. Everything here works the TF way, on
NHWC arrays with HWIO kernels and BGR colour (as the official test.py feeds OpenCV images),
and shares no code with holefill's models or converters:

- :func:`official_variables`: every generator variable's name and shape;
- :func:`reference_forward`: the forward pass, op by op: TF "SAME" padding computed from
  TF's formula, convolution as the kernel taps' sum (one matrix product), ELU (v1) or gated ELU * sigmoid (v2),
  nearest 2x resize with ``align_corners=True`` (TF1's ``roundf(y * (in-1)/(out-1))``), clip
  (v1) or tanh (v2), and the contextual attention of tests/contextual_attention_reference.py.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from contextual_attention_reference import naive_contextual_attention

# (name, filters in units of cnum (or an absolute count for the output), ksize, stride, rate)
_STAGE1 = [("conv1", 1, 5, 1, 1), ("conv2_downsample", 2, 3, 2, 1), ("conv3", 2, 3, 1, 1),
           ("conv4_downsample", 4, 3, 2, 1), ("conv5", 4, 3, 1, 1), ("conv6", 4, 3, 1, 1),
           ("conv7_atrous", 4, 3, 1, 2), ("conv8_atrous", 4, 3, 1, 4), ("conv9_atrous", 4, 3, 1, 8),
           ("conv10_atrous", 4, 3, 1, 16)]
_HALLU = [("xconv1", 1, 5, 1, 1), ("xconv2_downsample", 1, 3, 2, 1), ("xconv3", 2, 3, 1, 1),
          ("xconv4_downsample", 2, 3, 2, 1), ("xconv5", 4, 3, 1, 1), ("xconv6", 4, 3, 1, 1),
          ("xconv7_atrous", 4, 3, 1, 2), ("xconv8_atrous", 4, 3, 1, 4), ("xconv9_atrous", 4, 3, 1, 8),
          ("xconv10_atrous", 4, 3, 1, 16)]
_ATTN = [("pmconv1", 1, 5, 1, 1), ("pmconv2_downsample", 1, 3, 2, 1), ("pmconv3", 2, 3, 1, 1),
         ("pmconv4_downsample", 4, 3, 2, 1), ("pmconv5", 4, 3, 1, 1), ("pmconv6", 4, 3, 1, 1)]
_ATTN_AFTER = [("pmconv9", 4, 3, 1, 1), ("pmconv10", 4, 3, 1, 1)]


def _decoder(prefix: str) -> list[tuple[str, float, int, int, int]]:
    return [(f"{prefix}11", 4, 3, 1, 1), (f"{prefix}12", 4, 3, 1, 1), (f"{prefix}13_upsample", 2, 3, 1, 1),
            (f"{prefix}14", 2, 3, 1, 1), (f"{prefix}15_upsample", 1, 3, 1, 1), (f"{prefix}16", 0.5, 3, 1, 1),
            (f"{prefix}17", -3, 3, 1, 1)]  # -3: three filters, whatever cnum is


def _scope(name: str) -> str:
    """gen_deconv opens variable_scope(name) and names its conv name + '_conv'."""
    return f"inpaint_net/{name}/{name}_conv" if name.endswith("_upsample") else f"inpaint_net/{name}"


def official_variables(version: str, cnum: int, guided: bool = False) -> dict[str, tuple[int, ...]]:
    """Name -> shape (HWIO kernels, biases) of every generator variable of the official graph."""
    v2 = version == "deepfill_v2"
    gate = 2 if v2 else 1  # a v2 layer of F filters hands on F/2 channels

    def filters(units: float) -> int:
        return 3 if units < 0 else int(units * cnum)

    out: dict[str, tuple[int, ...]] = {}

    def chain(layers: list[tuple[str, float, int, int, int]], ch: int) -> int:
        for name, units, k, _, _ in layers:
            f = filters(units)
            out[f"{_scope(name)}/kernel"] = (k, k, ch, f)
            out[f"{_scope(name)}/bias"] = (f,)
            ch = f if (units < 0 or not v2) else f // gate
        return ch

    first = 5 + (1 if guided else 0)
    chain(_STAGE1 + _decoder("conv"), first)
    stage2_in = 3 if v2 else 5
    hallu = chain(_HALLU, stage2_in)
    attn = chain(_ATTN, stage2_in)
    attn = chain(_ATTN_AFTER, attn)
    chain(_decoder("allconv"), hallu + attn)
    return out


# -- the forward pass ----------------------------------------------------------------------------

def _tf_same(size: int, k: int, s: int, r: int) -> tuple[int, int]:
    out = (size + s - 1) // s
    total = max((out - 1) * s + (k - 1) * r + 1 - size, 0)
    return total // 2, total - total // 2


def tf_conv(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor, stride: int, rate: int) -> torch.Tensor:
    """``tf.layers.conv2d(padding='SAME')`` on NHWC ``x`` with an HWIO kernel, tap by tap."""
    n, h, w, _ = x.shape
    k = kernel.shape[0]
    top, bottom = _tf_same(h, k, stride, rate)
    left, right = _tf_same(w, k, stride, rate)
    xp = F.pad(x, (0, 0, left, right, top, bottom))
    oh, ow = (h + stride - 1) // stride, (w + stride - 1) // stride
    taps = [xp[:, i * rate: i * rate + stride * (oh - 1) + 1: stride, j * rate: j * rate + stride * (ow - 1) + 1: stride]
            for i in range(k) for j in range(k)]  # tap (i, j) meets kernel[i, j], as in the HWIO layout
    columns = torch.cat(taps, dim=-1)  # (n, oh, ow, k*k*c), taps in row-major (i, j) order
    return columns @ kernel.reshape(-1, kernel.shape[3]) + bias


def tf_resize_nearest_align(x: torch.Tensor, oh: int, ow: int) -> torch.Tensor:
    """TF1 ``resize_nearest_neighbor(align_corners=True)`` on NHWC: ``roundf(y * scale)`` in float32."""
    def idx(n_in: int, n_out: int) -> torch.Tensor:
        scale = np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1 else np.float32(0)
        pos = np.arange(n_out, dtype=np.float32) * scale
        return torch.from_numpy(np.minimum(np.floor(pos + np.float32(0.5)).astype(np.int64), n_in - 1))
    return x[:, idx(x.shape[1], oh)][:, :, idx(x.shape[2], ow)]


class _Graph:
    def __init__(self, variables: dict[str, np.ndarray], version: str) -> None:
        self.v = {k: torch.from_numpy(np.asarray(a, dtype=np.float64)) for k, a in variables.items()}
        self.v2 = version == "deepfill_v2"

    def gen_conv(self, x: torch.Tensor, name: str, stride: int = 1, rate: int = 1, activation: str = "elu") -> torch.Tensor:
        scope = _scope(name)
        y = tf_conv(x, self.v[f"{scope}/kernel"], self.v[f"{scope}/bias"], stride, rate)
        if activation == "none" or y.shape[-1] == 3:
            return y
        act = F.elu if activation == "elu" else F.relu
        if not self.v2:
            return act(y)
        feats, gate = torch.split(y, y.shape[-1] // 2, dim=-1)  # tf.split(x, 2, 3)
        return act(feats) * torch.sigmoid(gate)

    def gen_deconv(self, x: torch.Tensor, name: str) -> torch.Tensor:
        x = tf_resize_nearest_align(x, x.shape[1] * 2, x.shape[2] * 2)
        return self.gen_conv(x, name)

    def run(self, layers: list[tuple[str, float, int, int, int]], x: torch.Tensor) -> torch.Tensor:
        for name, units, _, stride, rate in layers:
            if name.endswith("_upsample"):
                x = self.gen_deconv(x, name)
            elif name in ("pmconv6",):
                x = self.gen_conv(x, name, stride, rate, activation="relu")
            else:
                x = self.gen_conv(x, name, stride, rate, activation="none" if units < 0 else "elu")
        return x


def reference_forward(variables: dict[str, np.ndarray], version: str, image_bgr: np.ndarray, mask: np.ndarray,
                      guide: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(stage 1, stage 2) outputs, NHWC BGR in [-1, 1], of the official graph for one image.

    ``image_bgr`` is HxWx3 in [-1, 1]; ``mask`` HxW with 1 = hole; as ``build_server_graph``,
    the image's hole is zeroed first, and v2's guide (HxW) is zeroed outside the hole.
    """
    g = _Graph(variables, version)
    m = torch.from_numpy(np.asarray(mask, dtype=np.float64))[None, :, :, None]
    xin = torch.from_numpy(np.asarray(image_bgr, dtype=np.float64))[None] * (1 - m)
    if guide is not None:
        xin = torch.cat([xin, torch.from_numpy(np.asarray(guide, dtype=np.float64))[None, :, :, None] * m], dim=-1)
    ones = torch.ones_like(m)
    x = g.run(_STAGE1, torch.cat([xin, ones, ones * m], dim=-1))
    h4, w4 = x.shape[1], x.shape[2]
    mask_s = tf_resize_nearest_align(m, h4, w4)  # resize_mask_like(mask, x) after conv6
    x = g.run(_decoder("conv"), x)
    stage1 = torch.tanh(x) if g.v2 else x.clamp(-1, 1)
    x = stage1 * m + xin[..., :3] * (1 - m)
    xnow = x if g.v2 else torch.cat([x, ones, ones * m], dim=-1)
    hallu = g.run(_HALLU, xnow)
    att = g.run(_ATTN, xnow)
    att_nchw = att.permute(0, 3, 1, 2)
    y, _ = naive_contextual_attention(att_nchw, att_nchw, mask_s.permute(0, 3, 1, 2), ksize=3, rate=2,
                                      fuse_k=3, softmax_scale=10.0)
    att = g.run(_ATTN_AFTER, y.permute(0, 2, 3, 1))
    x = g.run(_decoder("allconv"), torch.cat([hallu, att], dim=-1))
    stage2 = torch.tanh(x) if g.v2 else x.clamp(-1, 1)
    return stage1[0].numpy(), stage2[0].numpy()


def random_variables(shapes: dict[str, tuple[int, ...]], seed: int, gain: float = 1.3) -> dict[str, np.ndarray]:
    """Random float32 values for ``shapes``: kernels N(0, gain^2 / fan_in), small random biases."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in sorted(shapes.items()):
        if name.endswith("/kernel"):
            fan_in = shape[0] * shape[1] * shape[2]
            out[name] = (rng.standard_normal(shape) * gain / np.sqrt(fan_in)).astype(np.float32)
        else:
            out[name] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    return out
