"""Contextual attention (DeepFill v1 and v2), exact, batched and memory-bounded.

From Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018, used
again in "Free-Form Image Inpainting with Gated Convolution", ICCV 2019. Official code:
github.com/JiahuiYu/generative_inpainting (``contextual_attention`` in ``inpaint_ops.py``).

What the layer computes, as the official code does:

1. Foreground ``f`` (queries) and background ``b`` (keys) are shrunk by ``rate`` with TF1's
   nearest-neighbour resize with ``align_corners=True`` (:func:`resize_nearest_tf`), and so is
   the mask. Keys are the ``ksize`` x ``ksize`` patches of the small background (zero padded),
   each divided by its L2 norm (at least ``eps``); queries are the small foreground's patches,
   not normalised. A score is their dot product.
2. Fuse (``fuse=True``): the score matrix, rows = queries and columns = keys in row-major
   order, is convolved with a ``fuse_k`` identity kernel (summing along diagonals, zero beyond
   the ends of the flattened order), then the same is done with both axes flattened in
   column-major order. This favours coherent, larger matches.
3. Keys whose patch touches the hole get score 0 before a softmax over keys with scale
   ``softmax_scale``, and weight 0 after it.
4. Each query pastes the attention-weighted sum of full-resolution background patches of
   size ``2 * rate`` (stride ``rate``) at its place, by a transposed conv; overlaps are
   averaged by dividing by 4, as in the official code.

Efficiency: the official port materialises the (HW/rate^2)^2 score matrix per image and
convolves it, which runs out of memory at 1024^2. Here scores are computed for a chunk of
queries at a time with one batched matmul, and the fuse is a shift-and-add: the two
identity-kernel convolutions equal a sum over ``fuse_k^2`` index maps applied to both axes
(``S2[q, k] = sum_p S[src_p(q), src_p(k)]`` with zero where a map runs off the end). For
keys a map is a plain shift of the flattened axis except at the few columns where the
column-major order wraps to the next column; those are corrected explicitly, so the result
equals the naive formulation exactly (up to float rounding), including the official
zero-padding at the ends of both flattened orders. Peak memory is a few
``chunk_size``-element buffers plus O(HW) patch matrices.

Deviations from the official code (all kept small and deliberate):

- Each image uses its own mask; the official layer uses the first mask of the batch.
- Sizes not divisible by ``rate`` work (the official graph rejects them): raw patches and
  pasting use the small grid's size and TF's before-padding of the even case.
- Offsets are decoded with the background's width (the official code uses the foreground's,
  which only matters when they differ).
- Only ``stride=1`` and odd ``ksize`` are supported (the official fuse assumes stride 1).
- Without gradients the softmax clamps exponents just above ``log(tiny)`` (weights below
  1e-37 in float32 change; this keeps exp out of slow subnormals).
- :func:`flow_to_image` is our own colour coding (standard convention: hue from the
  direction with x to the right, y down); the official picture swaps the two axes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import InvalidArgumentError


def tf_nearest_indices(in_size: int, out_size: int, device: torch.device | None = None) -> torch.Tensor:
    """Source index of each output pixel in TF1's ``resize_nearest_neighbor(align_corners=True)``.

    TF computes ``scale = (in - 1) / (out - 1)`` in float32 and takes ``roundf(y * scale)``
    (halves away from zero), clamped to ``in - 1``. This is not ``2 * y`` when shrinking by 2.
    Written in tensor operations only (float32 scale and product, as TF, then a float64
    floor), so the sizes may be symbolic when the layer is exported to ONNX. With one output
    pixel any scale gives index 0.
    """
    one = torch.ones((), dtype=torch.float32, device=device)
    scale = (one * (in_size - 1)) / (one * max(out_size - 1, 1))
    pos = torch.arange(out_size, dtype=torch.float32, device=device) * scale
    idx = torch.floor(pos.to(torch.float64) + 0.5).to(torch.int64)
    return idx.clamp(max=in_size - 1)


def resize_nearest_tf(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize NCHW ``x`` to ``size`` (h, w) as neuralgym's ``resize`` (TF1, align_corners) does."""
    h, w = size
    if (h, w) == tuple(x.shape[-2:]):
        return x
    rows = tf_nearest_indices(x.shape[-2], h, x.device)
    cols = tf_nearest_indices(x.shape[-1], w, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def fuse_sources(h: int, w: int, fuse_k: int) -> tuple[torch.Tensor, list[int]]:
    """Index maps of the two-pass identity-kernel fuse on an ``h`` x ``w`` grid.

    Returns ``src`` of shape (fuse_k^2, h*w), row-major indices with -1 where the map runs off
    the flattened order, and each map's shift ``d2 * w + d1`` away from the column-major wrap.
    ``fused[q, k] = sum_p [src[p, q] >= 0][src[p, k] >= 0] scores[src[p, q], src[p, k]]``.
    """
    n = h * w
    idx = torch.arange(n)
    t = (idx % w) * h + idx // w  # column-major position of each row-major index
    before = (fuse_k - 1) // 2
    steps = range(-before, fuse_k - before)
    maps, shifts = [], []
    for d2 in steps:  # second pass: column-major neighbours
        t2 = t + d2
        ok2 = (t2 >= 0) & (t2 < n)
        t2 = t2.clamp(0, n - 1)
        k2 = (t2 % h) * w + t2 // h
        for d1 in steps:  # first pass: row-major neighbours
            k1 = k2 + d1
            ok = ok2 & (k1 >= 0) & (k1 < n)
            maps.append(torch.where(ok, k1, torch.full_like(k1, -1)))
            shifts.append(d2 * w + d1)
    return torch.stack(maps), shifts


Segment = tuple[int, int, int]


def shift_segments(src: torch.Tensor) -> list[Segment]:
    """Runs ``(start, end, shift)`` with ``src[i] == i + shift`` for ``start <= i < end``.

    Indices where ``src`` is -1 belong to no run. A fuse map is a handful of runs (the plain
    shift, and the rows or columns that wrap to the next column of the column-major order),
    so applying it is a few slice additions, without gathers.
    """
    n = src.numel()
    if n == 0:
        return []
    delta = src - torch.arange(n)
    valid = src >= 0
    change = torch.ones(n, dtype=torch.bool)
    change[1:] = (delta[1:] != delta[:-1]) | (valid[1:] != valid[:-1])
    starts = torch.nonzero(change).flatten().tolist()
    ends = starts[1:] + [n]
    return [(a, e, int(delta[a])) for a, e in zip(starts, ends) if bool(valid[a])]


class _ScoreRows:
    """Scores of query rows against every key, with reused storage when nothing needs gradients.

    Chunks ask for overlapping windows of rows (a chunk plus its fuse neighbours); without
    gradients the window lives in one buffer, rows shared with the previous window are
    moved instead of recomputed, and no large tensor is allocated per chunk (fresh large
    tensors cost page faults). With gradients every request is a plain matmul.
    """

    def __init__(self, queries: torch.Tensor, keys: torch.Tensor, window: int, chunk: int, reuse: bool) -> None:
        n, lk = queries.shape[0], keys.shape[-1]
        self.queries, self.keys = queries, keys
        self.window = queries.new_empty(n, window, lk) if reuse else None
        self.result = queries.new_empty(n, chunk, lk) if reuse else None
        self.lo = self.hi = 0

    def rows(self, lo: int, hi: int, *, keep: bool = True) -> torch.Tensor:
        """Scores of query rows ``lo:hi`` (N, hi - lo, Lk), a view of the window when reusing.

        ``keep=False`` says the caller will overwrite the result, so the next window must
        not reuse it.
        """
        if self.window is None or hi - lo > self.window.shape[1]:
            return torch.matmul(self.queries[:, lo:hi], self.keys)
        buf = self.window
        start = lo
        if self.lo <= lo < self.hi:  # slide: keep the rows the last window already holds
            start = min(hi, self.hi)
            if lo > self.lo:
                kept = buf[:, lo - self.lo:start - self.lo]
                buf[:, :start - lo] = kept.clone() if lo - self.lo < start - lo else kept
        for i in range(buf.shape[0]):  # per image: out= must be contiguous
            if hi > start:
                torch.matmul(self.queries[i, start:hi], self.keys[i], out=buf[i, start - lo:hi - lo])
        self.lo, self.hi = (lo, hi) if keep else (0, 0)
        return buf[:, :hi - lo]

    def accumulator(self, rows: int) -> torch.Tensor:
        """A zeroed (N, rows, Lk) tensor for the fused scores."""
        if self.result is None or rows > self.result.shape[1]:
            return self.queries.new_zeros(self.queries.shape[0], rows, self.keys.shape[-1])
        return self.result[:, :rows].zero_()


def _fused_scores(scorer: _ScoreRows, q0: int, q1: int, maps: list[tuple[list[Segment], list[Segment]]],
                  reach: int) -> torch.Tensor:
    """Fused scores of queries ``q0:q1`` against every key: (N, q1 - q0, Lk).

    ``maps`` holds each fuse map as (query runs, key runs). One window of rows holds the
    chunk's queries and the neighbours within ``reach`` rows that the maps read; rows a map
    reads across the column-major wrap, far from the chunk, are scored apart. Each map then
    adds its shifted copy, slice by slice.
    """
    lq = scorer.queries.shape[1]
    if len(maps) == 1:  # no fuse; the softmax then works in place on these rows
        return scorer.rows(q0, q1, keep=False)
    # The rows each map reads for this chunk: (start, end, shift) of its runs within the chunk.
    reads = [[(max(a, q0), min(e, q1), sh) for a, e, sh in q_runs if min(e, q1) > max(a, q0)] for q_runs, _ in maps]
    sources = [(a + sh, e + sh) for rr in reads for a, e, sh in rr]
    near = [(r0, r1) for r0, r1 in sources if r0 >= q0 - reach and r1 <= q1 + reach]
    lo = max(0, min([q0] + [r0 for r0, _ in near]))
    hi = min(lq, max([q1] + [r1 for _, r1 in near]))
    block = scorer.rows(lo, hi)
    spans: list[list[int]] = []  # merged (start, end) of rows outside the block
    for r0, r1 in sorted((r0, r1) for r0, r1 in sources if r0 < lo or r1 > hi):
        if spans and r0 <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], r1)
        else:
            spans.append([r0, r1])
    far = [(r0, r1, torch.matmul(scorer.queries[:, r0:r1], scorer.keys)) for r0, r1 in spans]

    def rows(r0: int, r1: int) -> torch.Tensor:
        if lo <= r0 and r1 <= hi:
            return block[:, r0 - lo:r1 - lo]
        for f0, f1, scores in far:
            if f0 <= r0 and r1 <= f1:
                return scores[:, r0 - f0:r1 - f0]
        raise AssertionError("fuse rows not scored")  # pragma: no cover

    acc = scorer.accumulator(q1 - q0)
    for (_, k_runs), q_reads in zip(maps, reads):
        for a, e, sh in q_reads:
            src_rows = rows(a + sh, e + sh)
            for ka, ke, ks in k_runs:  # (a fresh view each time, which autograd needs)
                acc[:, a - q0:e - q0, ka:ke] += src_rows[..., ka + ks:ke + ks]
    return acc


def _masked_softmax(scores: torch.Tensor, usable: torch.Tensor, scale: float, inplace: bool) -> torch.Tensor:
    """``softmax(scores * usable * scale) * usable`` over keys, as the official layer does
    (unusable keys score 0 before the softmax and weigh 0 after it)."""
    if not inplace:
        return torch.softmax(scores * usable * scale, dim=-1) * usable
    x = scores.mul_(usable).mul_(scale)
    # Clamping just above log(tiny) keeps exp out of subnormals, which are several times slower
    # on x86; the weights it changes stay below 1e-37 (float32), next to a largest weight of 1.
    x.sub_(x.amax(dim=-1, keepdim=True)).clamp_(min=math.log(torch.finfo(x.dtype).tiny) + 2.0).exp_()
    return x.div_(x.sum(dim=-1, keepdim=True)).mul_(usable)


def _sample_one_hot(weights: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One key per query, drawn from its weights (rows with no usable key stay all zero)."""
    n, q, k = weights.shape
    rows = weights.reshape(n * q, k)
    total = rows.sum(dim=-1, keepdim=True)
    safe = torch.where(total > 0, rows, torch.ones_like(rows))
    picks = torch.multinomial(safe.float(), 1, generator=generator)
    out = torch.zeros_like(rows).scatter_(1, picks, 1.0) * (total > 0)
    return out.view(n, q, k)


def contextual_attention(
    f: torch.Tensor,
    b: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    ksize: int = 3,
    stride: int = 1,
    rate: int = 2,
    fuse_k: int = 3,
    softmax_scale: float = 10.0,
    fuse: bool = True,
    chunk_size: int = 2**24,
    eps: float = 1e-4,
    return_flow: bool = False,
    sample: torch.Generator | None = None,
    dense: bool | None = None,
    raw: torch.Tensor | None = None,
    downscale: str = "tf",
    key_norm: str = "clamp",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fill ``f`` (N,C,H,W) with patches of ``b`` (N,C,Hb,Wb), avoiding ``mask`` (1 = hole).

    ``mask`` is (N or 1, 1, Hb, Wb) at the background's resolution, or None (all keys usable).
    Returns the reconstructed foreground (N,C,H,W) and, with ``return_flow``, the offsets
    (N, 2, H // rate, W // rate) int64 ``(dy, dx)`` from each query to its best key, on the
    small grid. ``chunk_size`` bounds the score entries (N x queries x keys) held at once.

    With ``sample`` (a ``torch.Generator``), each query pastes ONE key's patch drawn from its
    attention distribution instead of the weighted average of all of them: stochastic
    attention, so that one network gives many plausible fills (not in the paper; off unless
    asked for).

    ``dense`` computes the whole score matrix at once (:func:`fuse_dense`): the form that
    exports to ONNX and compiles, with memory growing as (HW)^2. None (the default) picks
    it while ``torch.compile`` or ``torch.export`` traces the layer, and when gradients are
    tracked (training: the chunked form's in-place slice additions would each copy the
    scores in the backward pass; the dense form's backward is cheap).

    Variants used by other papers (defaults: DeepFill's layer):

    - ``raw`` (N,C',Hb,Wb): paste patches of this tensor instead of ``b``'s, while matching on
      ``b`` (wide-range blending matches decoder features and pastes encoder skip features);
      the result then has C' channels.
    - ``downscale``: ``"tf"`` shrinks by ``rate`` with TF1's aligned nearest resize, ``"nearest"``
      with PyTorch's ``F.interpolate(scale_factor=1/rate)`` (every ``rate``-th pixel), as
      PyTorch ports do.
    - ``key_norm``: ``"clamp"`` divides a key by ``max(||k||, eps)`` (TF), ``"smooth"`` by
      ``sqrt(sum(k_i^2 + eps))`` (PyTorch ports add ``eps`` to every squared entry).
    """
    if downscale not in ("tf", "nearest"):
        raise InvalidArgumentError(f"contextual attention: downscale must be 'tf' or 'nearest', got {downscale!r}")
    if key_norm not in ("clamp", "smooth"):
        raise InvalidArgumentError(f"contextual attention: key_norm must be 'clamp' or 'smooth', got {key_norm!r}")
    if f.dim() != 4 or b.dim() != 4 or f.shape[:2] != b.shape[:2]:
        raise InvalidArgumentError("contextual attention needs NCHW f and b with equal N and C, "
                                   f"got {tuple(f.shape)} and {tuple(b.shape)}")
    if stride != 1:
        raise InvalidArgumentError(f"contextual attention supports stride 1 only (as the official fuse), got {stride}")
    if ksize < 1 or ksize % 2 == 0:
        raise InvalidArgumentError(f"contextual attention needs an odd ksize, got {ksize}")
    if rate < 1 or fuse_k < 1 or chunk_size < 1:
        raise InvalidArgumentError("contextual attention needs rate, fuse_k and chunk_size >= 1")
    n, c, fh_full, fw_full = f.shape
    bh_full, bw_full = b.shape[-2:]
    hf, wf, hb, wb = (_shrink(size, rate) for size in (fh_full, fw_full, bh_full, bw_full))
    if min(hf, wf, hb, wb) < 1:
        raise InvalidArgumentError(f"contextual attention inputs are too small for rate {rate}: {tuple(f.shape)}")
    if mask is not None and (mask.dim() != 4 or tuple(mask.shape[-2:]) != (bh_full, bw_full)
                             or mask.shape[0] not in (1, n)):
        raise InvalidArgumentError(f"contextual attention mask must be (N or 1, 1, {bh_full}, {bw_full}), "
                                   f"got {tuple(mask.shape)}")
    lq, lk = hf * wf, hb * wb
    dtype, device = f.dtype, f.device
    kr, pad = 2 * rate, rate // 2  # raw patch size, and TF SAME's before-padding for it

    source = b
    if raw is not None:
        if raw.dim() != 4 or raw.shape[0] != n or tuple(raw.shape[-2:]) != (bh_full, bw_full):
            raise InvalidArgumentError(f"contextual attention: raw must be (N, C', {bh_full}, {bw_full}) like the "
                                       f"background, got {tuple(raw.shape)}")
        source = raw
    # Full-resolution background patches to paste: (N, C*kr*kr, Lk).
    span_h, span_w = (hb - 1) * rate + kr, (wb - 1) * rate + kr
    b_pad = F.pad(source, (pad, max(0, span_w - pad - bw_full), pad, max(0, span_h - pad - bh_full)))
    raw = F.unfold(b_pad[..., :span_h, :span_w], kr, stride=rate)

    if downscale == "tf":
        f_small, b_small = resize_nearest_tf(f, (hf, wf)), resize_nearest_tf(b, (hb, wb))
    else:
        f_small, b_small = f[..., ::rate, ::rate][..., :hf, :wf], b[..., ::rate, ::rate][..., :hb, :wb]
    queries = F.unfold(f_small, ksize, padding=ksize // 2).transpose(1, 2)  # (N, Lq, C*k*k)
    keys = F.unfold(b_small, ksize, padding=ksize // 2)  # (N, C*k*k, Lk)
    if key_norm == "clamp":
        keys = keys / keys.norm(dim=1, keepdim=True).clamp_min(eps)
    else:
        keys = keys / (keys.square() + eps).sum(dim=1, keepdim=True).sqrt()
    del f_small, b_small

    if mask is None:
        usable = torch.ones(1, 1, lk, dtype=dtype, device=device)
    else:
        m_small = mask.to(dtype)
        m_small = (resize_nearest_tf(m_small, (hb, wb)) if downscale == "tf"
                   else m_small[..., ::rate, ::rate][..., :hb, :wb]).abs()
        touched = F.avg_pool2d(m_small, ksize, stride=1, padding=ksize // 2, count_include_pad=True)
        usable = (touched == 0).to(dtype).flatten(2)  # (N or 1, 1, Lk)

    if dense is None:
        tracking = torch.is_grad_enabled() and (queries.requires_grad or keys.requires_grad)
        dense = torch.compiler.is_compiling() or (tracking and sample is None)
    if dense:
        if sample is not None:
            raise InvalidArgumentError("stochastic contextual attention (sample=) has no dense form")
        scores = torch.matmul(queries, keys)  # (N, Lq, Lk)
        if fuse:
            scores = fuse_dense(scores, (hf, wf), (hb, wb), fuse_k)
        weights = torch.softmax(scores * usable * softmax_scale, dim=-1) * usable
        cols = torch.matmul(raw, weights.transpose(1, 2))
        best = weights.argmax(dim=-1) if return_flow else None
        return _paste(cols, best, rate, (hf, wf), (fh_full, fw_full), wb)

    if fuse:
        q_src, _ = fuse_sources(hf, wf, fuse_k)
        k_src, _ = fuse_sources(hb, wb, fuse_k)
        maps = [(shift_segments(qs), shift_segments(ks)) for qs, ks in zip(q_src, k_src)]
        reach = (fuse_k // 2) * (wf + 1)  # the longest plain (non-wrapping) shift of a query
    else:
        maps, reach = [([(0, lq, 0)], [(0, lk, 0)])], 0

    per_chunk = max(1, min(lq, chunk_size // max(1, n * lk)))
    tracking = torch.is_grad_enabled() and (queries.requires_grad or keys.requires_grad)
    scorer = _ScoreRows(queries, keys, window=min(lq, per_chunk + 2 * reach), chunk=per_chunk if fuse else 0,
                        reuse=not tracking)
    cols = raw.new_empty(n, raw.shape[1], lq)
    best = torch.empty(n, lq, dtype=torch.long, device=device) if return_flow else None

    for q0 in range(0, lq, per_chunk):
        q1 = min(lq, q0 + per_chunk)
        scores = _fused_scores(scorer, q0, q1, maps, reach)
        weights = _masked_softmax(scores, usable, softmax_scale, inplace=not tracking)
        del scores
        if sample is not None:
            weights = _sample_one_hot(weights, sample)
        if best is not None:
            best[:, q0:q1] = weights.argmax(dim=-1)
        cols[:, :, q0:q1] = torch.matmul(raw, weights.transpose(1, 2))
        del weights
    del scorer
    return _paste(cols, best, rate, (hf, wf), (fh_full, fw_full), wb)


def _shrink(size: int, rate: int) -> int:
    """The small grid's side: ``int(size * (1 / rate))`` as the official layer computes it,
    which is ``size // rate`` whenever ``1 / rate`` is exact (rate a power of two); the
    integer form keeps symbolic sizes symbolic when exporting."""
    if rate & (rate - 1) == 0:
        return size // rate
    return int(size * (1.0 / rate))


def _paste(cols: torch.Tensor, best: torch.Tensor | None, rate: int, grid: tuple[int, int],
           full: tuple[int, int], wb: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fold the pasted patches ``cols`` (N, C*kr*kr, Lq) into the (N, C, H, W) output, averaging
    overlaps by 4 as the official layer does, and decode the best keys into offsets."""
    hf, wf = grid
    fh_full, fw_full = full
    kr, pad = 2 * rate, rate // 2
    canvas = ((hf - 1) * rate + kr, (wf - 1) * rate + kr)
    y = F.fold(cols, canvas, kr, stride=rate)
    y = F.pad(y, (0, max(0, pad + fw_full - canvas[1]), 0, max(0, pad + fh_full - canvas[0])))
    y = y[..., pad:pad + fh_full, pad:pad + fw_full] / 4.0

    offsets = None
    if best is not None:
        n = cols.shape[0]
        qy = torch.arange(hf, device=cols.device).view(1, hf, 1)
        qx = torch.arange(wf, device=cols.device).view(1, 1, wf)
        best = best.view(n, hf, wf)
        offsets = torch.stack([best // wb - qy, best % wb - qx], dim=1)
    return y, offsets


def _diagonal_sum(scores: torch.Tensor, k: int) -> torch.Tensor:
    """One pass of the fuse: the (N, Lq, Lk) matrix correlated with a k x k identity kernel,
    zero-padded as TF's SAME (``out[q, j] = sum_d scores[q + d, j + d]``)."""
    before = (k - 1) // 2
    lq, lk = scores.shape[-2:]
    padded = F.pad(scores, (before, k - 1 - before, before, k - 1 - before))
    out = padded[:, :lq, :lk]
    for d in range(1, k):
        out = out + padded[:, d:d + lq, d:d + lk]
    return out


def fuse_dense(scores: torch.Tensor, q_grid: tuple[int, int], k_grid: tuple[int, int], fuse_k: int) -> torch.Tensor:
    """The official fuse on the whole (N, Lq, Lk) score matrix: a diagonal sum in row-major
    order, then the same in column-major order (both axes transposed on their grids).

    This is the dense form the layer takes when exported or compiled (every step is a pad,
    a slice, a reshape or a transpose, so the sizes may be symbolic); it holds a few copies
    of the score matrix, where the chunked form holds none.
    """
    n = scores.shape[0]
    (hq, wq), (hk, wk) = q_grid, k_grid
    s = _diagonal_sum(scores, fuse_k)
    s = s.reshape(n, hq, wq, hk, wk).permute(0, 2, 1, 4, 3).reshape(n, hq * wq, hk * wk)
    s = _diagonal_sum(s, fuse_k)
    return s.reshape(n, wq, hq, wk, hk).permute(0, 2, 1, 4, 3).reshape(n, hq * wq, hk * wk)


class ContextualAttention(nn.Module):
    """:func:`contextual_attention` with its settings held, for use inside networks."""

    def __init__(self, ksize: int = 3, stride: int = 1, rate: int = 2, fuse_k: int = 3, softmax_scale: float = 10.0,
                 fuse: bool = True, chunk_size: int = 2**24, downscale: str = "tf", key_norm: str = "clamp") -> None:
        super().__init__()
        if downscale not in ("tf", "nearest") or key_norm not in ("clamp", "smooth"):
            raise InvalidArgumentError(f"contextual attention: downscale must be 'tf' or 'nearest' and key_norm 'clamp' "
                                       f"or 'smooth', got {downscale!r} and {key_norm!r}")
        self.downscale, self.key_norm = downscale, key_norm
        if stride != 1 or ksize < 1 or ksize % 2 == 0 or rate < 1 or fuse_k < 1 or chunk_size < 1:
            raise InvalidArgumentError(
                f"contextual attention: need stride 1, odd ksize, rate, fuse_k, chunk_size >= 1; got "
                f"stride={stride}, ksize={ksize}, rate={rate}, fuse_k={fuse_k}, chunk_size={chunk_size}")
        self.ksize, self.stride, self.rate, self.fuse_k = ksize, stride, rate, fuse_k
        self.softmax_scale, self.fuse, self.chunk_size = softmax_scale, fuse, chunk_size
        #: Set a generator to make the layer stochastic (see :func:`contextual_attention`'s
        #: ``sample``); None, the default, is the paper's deterministic attention.
        self.generator: torch.Generator | None = None
        #: The whole score matrix at once (True), chunked (False), or dense only while
        #: traced for export or compilation (None, the default).
        self.dense: bool | None = None

    def forward(self, f: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None, *,
                return_flow: bool = False, raw: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        return contextual_attention(f, b, mask, ksize=self.ksize, stride=self.stride, rate=self.rate,
                                    fuse_k=self.fuse_k, softmax_scale=self.softmax_scale, fuse=self.fuse,
                                    chunk_size=self.chunk_size, return_flow=return_flow, sample=self.generator,
                                    dense=self.dense, raw=raw, downscale=self.downscale, key_norm=self.key_norm)

    def extra_repr(self) -> str:
        return (f"ksize={self.ksize}, rate={self.rate}, fuse_k={self.fuse_k}, softmax_scale={self.softmax_scale}, "
                f"fuse={self.fuse}, chunk_size={self.chunk_size}")


# -- pictures of the attention --------------------------------------------------------------

#: Hue segments of the Middlebury flow colour wheel (Baker et al., 2011): steps from red to
#: yellow, green, cyan, blue, magenta and back to red.
_WHEEL_SEGMENTS = ((15, (1, 0, 0), (1, 1, 0)), (6, (1, 1, 0), (0, 1, 0)), (4, (0, 1, 0), (0, 1, 1)),
                   (11, (0, 1, 1), (0, 0, 1)), (13, (0, 0, 1), (1, 0, 1)), (6, (1, 0, 1), (1, 0, 0)))


def color_wheel() -> np.ndarray:
    """The flow colour wheel: (55, 3) float RGB in [0, 1], hues in order around the circle."""
    rows = []
    for steps, start, end in _WHEEL_SEGMENTS:
        ramp = np.floor(255 * np.arange(steps) / steps) / 255  # how far along the segment
        a, e = np.array(start, float), np.array(end, float)
        rows.append(a[None, :] + (e - a)[None, :] * ramp[:, None])
    return np.concatenate(rows)


def flow_to_image(offsets: torch.Tensor | np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Colour-code attention offsets ``(dy, dx)`` as a flow picture, uint8 RGB.

    ``offsets`` is (2, h, w) or (N, 2, h, w); the result is (h, w, 3) or (N, h, w, 3). Hue is
    the direction, saturation the length relative to the longest offset in that image; no
    offset is white. ``size`` (h, w) enlarges the picture (nearest neighbour), e.g. to the
    input image's size.
    """
    arr = offsets.detach().cpu().numpy() if isinstance(offsets, torch.Tensor) else np.asarray(offsets)
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1] != 2:
        raise InvalidArgumentError(f"offsets must be (2, h, w) or (N, 2, h, w), got shape {tuple(arr.shape)}")
    wheel = color_wheel()
    ncols = len(wheel)
    pictures = []
    for dy, dx in arr.astype(np.float64):
        rad = np.hypot(dx, dy)
        rad = rad / max(float(rad.max()), np.finfo(np.float64).eps)
        angle = np.arctan2(-dy, -dx) / np.pi  # in [-1, 1]
        pos = (angle + 1) / 2 * (ncols - 1)
        k0 = np.floor(pos).astype(int)
        k1 = (k0 + 1) % ncols
        frac = (pos - k0)[..., None]
        col = (1 - frac) * wheel[k0] + frac * wheel[k1]
        col = 1 - rad[..., None] * (1 - col)  # short offsets fade to white
        pic = np.floor(255 * col).astype(np.uint8)
        if size is not None and pic.shape[:2] != tuple(size):
            rows = np.minimum(np.arange(size[0]) * pic.shape[0] // size[0], pic.shape[0] - 1)
            colsi = np.minimum(np.arange(size[1]) * pic.shape[1] // size[1], pic.shape[1] - 1)
            pic = pic[rows][:, colsi]
        pictures.append(pic)
    out = np.stack(pictures)
    return out[0] if single else out
