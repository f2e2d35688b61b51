"""The authors' TensorFlow 1 checkpoints of DeepFill v1 and v2 and of VCNet as holefill models.

Official code and releases: github.com/JiahuiYu/generative_inpainting, tag v1.0.0 (DeepFill
v1, ``InpaintCAModel.build_inpaint_net`` in ``inpaint_model.py``, ``gen_conv``/``gen_deconv``
in ``inpaint_ops.py``) and branch v2.0.0 (DeepFill v2, same names). The released model folders
(Places2, CelebA-HQ, CelebA, ImageNet for v1; Places2, CelebA-HQ for v2) hold a TF1 checkpoint
written by ``tf.train.Saver``; it is read by :mod:`holefill.formats.tf_bundle`, so TensorFlow
is not needed.

Variables, as ``tf.layers.conv2d`` names them inside ``tf.variable_scope('inpaint_net')``:

- ``inpaint_net/{layer}/kernel`` (HWIO) and ``inpaint_net/{layer}/bias`` for each generator
  layer ``conv1`` ... ``conv17``, ``xconv1`` ... ``xconv10_atrous``, ``pmconv1`` ...
  ``pmconv10``, ``allconv11`` ... ``allconv17``;
- the two "deconv" layers of each decoder sit one scope deeper, because ``gen_deconv`` opens
  ``variable_scope(name)`` and names its conv ``name + '_conv'``:
  ``inpaint_net/conv13_upsample/conv13_upsample_conv/kernel`` (likewise 15, allconv13/15).

Each maps to the holefill layer of the same name (the models keep the official names), kernel
HWIO -> OIHW. TF's "SAME" padding is already what :class:`~holefill.layers.gated_conv.SameConv2d`
does (the odd pixel after, for every size and stride), and the nearest 2x upsampling with
``align_corners=True`` picks the same pixels, so no weight needs re-padding.

Colour order: the official ``test.py`` reads images with OpenCV, so the released networks see
and produce BGR. Holefill is RGB throughout, so the converter reverses the first three input
channels of ``conv1``, ``xconv1`` and ``pmconv1`` and the output channels (kernel and bias) of
``conv17`` and ``allconv17``: the converted model on RGB equals the official one on BGR.

Everything else a training checkpoint holds is listed in the report, not used: the critics
(``discriminator/...``), optimiser slots (``.../Adam``, ``.../Adam_1``), Adam's
``beta1_power``/``beta2_power`` and step counters. An ``inpaint_net`` variable that matches no
layer, a missing one or one of the wrong shape is an error; so is a checkpoint of another model.

The width (``cnum``, the filters of ``conv1``: 32 for v1, 48 for v2) and v2's guided mode (a sixth input channel) are read
from the kernels' shapes, so no flag is needed.

VCNet (github.com/shepnerd/blindinpainting_vcnet, ``tensorflow_version``; the FFHQ and
CelebA-HQ models of its README): :func:`vcnet_official_variables` lists the generator's
variables (scope ``blind_inpaint_net``), :func:`read_vcnet_checkpoint` reads them strictly and
:func:`load_official_vcnet` maps them with :func:`holefill.models.vcnet.official_variable_map`
(the model keeps the official layer names; kernels HWIO -> OIHW; no colour flip, because the
official ``test.py`` feeds RGB). The graph converted is the one ``--cn_type v1`` builds, the
default of the training and test options: context normalisation with the fixed ratio,
``pcn: fixed``. A ``--cn_type old`` checkpoint (no shortcut convs in the inpainting blocks)
and ``se`` variables (a graph the official code cannot build) are one-line errors. What the
weights cannot tell is taken from ``options/test_options.py``'s defaults, which are our
config's: ``rho`` 0.5, ``use_cn`` 1, ``embrace`` 0 (the authors' test scripts pass
``--embrace 1`` only for their "-RM" models, which the README does not release).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from holefill.errors import ConfigError, WeightsError
from holefill.formats.tf_bundle import TFCheckpoint, open_checkpoint
from holefill.layers.gated_conv import SameConv2d
from holefill.models.base import InpaintModel, load_state_strict
from holefill.models.foreign import Converted, Report

__all__ = ["OPTIMISER_SLOTS", "deepfill_variable_map", "load_official_deepfill", "load_official_vcnet", "looks_like",
           "read_vcnet_checkpoint", "remap_deepfill", "vcnet_official_variables"]

PathLike = str | os.PathLike[str]

SCOPE = "inpaint_net"
#: The last name part of the optimiser's per-variable state in a training checkpoint.
OPTIMISER_SLOTS = ("Adam", "Adam_1", "Momentum", "RMSProp", "RMSProp_1", "Adagrad", "ExponentialMovingAverage")
#: Training bookkeeping outside any network.
COUNTERS = ("global_step", "beta1_power", "beta2_power")
#: Layers whose input (first three channels) or output is in the official BGR order.
BGR_INPUTS = ("conv1", "xconv1", "pmconv1")
BGR_OUTPUTS = ("conv17", "allconv17")


def deepfill_variable_map(model: nn.Module) -> dict[str, tuple[str, str]]:
    """Official variable name -> (holefill parameter name, official layer name) for a DeepFill model."""
    mapping: dict[str, tuple[str, str]] = {}
    for path, module in model.named_modules():
        if not isinstance(module, SameConv2d):
            continue
        parts = path.split(".")
        if parts[-1] == "conv" and parts[-2].endswith("_upsample"):  # UpConv2d wraps its conv
            layer = parts[-2]
            scope = f"{SCOPE}/{layer}/{layer}_conv"
        else:
            layer = parts[-1]
            scope = f"{SCOPE}/{layer}"
        mapping[f"{scope}/kernel"] = (f"{path}.weight", layer)
        mapping[f"{scope}/bias"] = (f"{path}.bias", layer)
    return mapping


def remap_deepfill(variables: Mapping[str, np.ndarray], model: nn.Module, *,
                   source: str = "<variables>") -> dict[str, torch.Tensor]:
    """The state dict of ``model`` from official DeepFill variables (HWIO, BGR), strictly.

    ``variables`` holds only the generator's variables (``inpaint_net/...``). Missing, unknown
    and misshapen variables are a :class:`WeightsError` naming them.
    """
    mapping = deepfill_variable_map(model)
    own = model.state_dict()
    missing = sorted(set(mapping) - set(variables))
    unknown = sorted(set(variables) - set(mapping))
    problems = []
    if missing:
        problems.append(f"{len(missing)} official variables missing (e.g. {', '.join(missing[:2])})")
    if unknown:
        problems.append(f"{len(unknown)} {SCOPE} variables match no layer (e.g. {', '.join(unknown[:2])})")
    state: dict[str, torch.Tensor] = {}
    for name, (key, layer) in mapping.items():
        if name not in variables:
            continue
        value = torch.from_numpy(np.array(variables[name], dtype=np.float32))
        if name.endswith("/kernel"):
            if value.dim() != 4:
                problems.append(f"{name} has shape {list(value.shape)}, not a 2-D conv kernel (HWIO)")
                continue
            value = value.permute(3, 2, 0, 1)  # HWIO -> OIHW
            if layer in BGR_INPUTS and value.shape[1] >= 3:
                value = torch.cat([value[:, :3].flip(1), value[:, 3:]], dim=1)
        if layer in BGR_OUTPUTS:
            value = value.flip(0)
        if tuple(value.shape) != tuple(own[key].shape):
            expected = own[key].shape
            shown = [expected[2], expected[3], expected[1], expected[0]] if name.endswith("/kernel") else list(expected)
            found = list(np.shape(variables[name]))
            problems.append(f"{name} has shape {found}, the layer needs {shown}")
            continue
        state[key] = value.contiguous()
    if problems:
        raise WeightsError("does not fit the official DeepFill graph: " + "; ".join(problems[:3]), source)
    return state


def looks_like(ckpt: TFCheckpoint) -> str | None:
    """Which official model a TF checkpoint's generator variables look like (None: none known)."""
    xconv1 = ckpt.entries.get(f"{SCOPE}/xconv1/kernel")
    if xconv1 is not None and len(xconv1.shape) == 4:
        return "deepfill_v1" if xconv1.shape[2] == 5 else "deepfill_v2" if xconv1.shape[2] == 3 else None
    if any(n.startswith(f"{VCNET_SCOPE}/") for n in ckpt.names()):  # VCNet's scope (net/generator.py)
        return "vcnet"
    return None


def _classify(ckpt: TFCheckpoint, report: Report, scope: str = SCOPE, critics: str = "discriminator/",
              critics_are: str = "the discriminator, not needed to fill") -> list[str]:
    """The names of the generator's variables (under ``scope``); everything else goes into the
    report with its reason (``critics_are`` for names starting with ``critics``)."""
    generator = []
    for name in ckpt.names():
        last = name.rsplit("/", 1)[-1]
        if last in OPTIMISER_SLOTS:
            report.skip("optimiser state", name)
        elif name.startswith(scope + "/"):
            generator.append(name)
        elif name.startswith(critics):
            report.skip(critics_are, name)
        elif name in COUNTERS or last in COUNTERS:
            report.skip("training counters", name)
        else:
            report.skip("outside the generator", name)
    return generator


def _config_from_shapes(version: str, ckpt: TFCheckpoint, where: str) -> dict[str, object]:
    conv1 = ckpt.entries.get(f"{SCOPE}/conv1/kernel")
    if conv1 is None or len(conv1.shape) != 4:
        raise WeightsError(f"has no {SCOPE}/conv1/kernel, so it is not a DeepFill generator", where)
    in_ch, filters = conv1.shape[2], conv1.shape[3]
    if version == "deepfill_v1":
        if in_ch != 5:
            raise WeightsError(f"{SCOPE}/conv1 takes {in_ch} channels; DeepFill v1 takes 5", where)
        return {"cnum": int(filters)}
    if in_ch not in (5, 6) or filters % 4:
        raise WeightsError(f"{SCOPE}/conv1 has shape {list(conv1.shape)}; DeepFill v2 takes 5 or 6 channels "
                           "into a multiple of 4 gated filters", where)
    return {"cnum": int(filters), "use_guidance": in_ch == 6}


def load_official_deepfill(version: str, source: PathLike) -> Converted:
    """DeepFill ``version`` ("deepfill_v1" or "deepfill_v2") with the weights of a TF1 checkpoint.

    ``source`` is the released model folder (with its ``checkpoint`` file), a checkpoint
    prefix, or its ``.index``/``.data-*``/``.meta`` file.
    """
    from holefill.models.registry import create_model

    ckpt = open_checkpoint(source)
    where = f"{ckpt.prefix}.index"
    kind = looks_like(ckpt)
    if kind is not None and kind != version:
        raise WeightsError(f"looks like a {kind} checkpoint, not {version}: use holefill convert {kind}", where)
    report = Report()
    generator = _classify(ckpt, report)
    if not generator:
        raise WeightsError(f"holds no {SCOPE}/ variables: not a DeepFill generator checkpoint", where)
    config = _config_from_shapes(version, ckpt, where)
    try:
        model: InpaintModel = create_model(version, **config)
    except Exception as exc:  # a ConfigError here means shapes no DeepFill can have
        raise WeightsError(f"has shapes no {version} can have ({exc})", where) from None
    variables = {name: ckpt.read(name) for name in generator}
    state = remap_deepfill(variables, model, source=where)
    load_state_strict(model, state, source=where)
    report.used = len(variables)
    return Converted(model=model.eval(), files=ckpt.files, report=report, carried=config)


# -- VCNet (Wang et al., ECCV 2020) ----------------------------------------------------------------

VCNET_SCOPE = "blind_inpaint_net"


def vcnet_official_variables(cnum: int = 32) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every generator variable of the official VCNet TF1 graph.

    From github.com/shepnerd/blindinpainting_vcnet, ``tensorflow_version/net/generator.py``
    (``VCNModel.build_net``, scope ``blind_inpaint_net``, ``g_cnum`` = 32 by default in
    ``options/test_options.py``) and ``net/ops.py`` (``resblock``: convs ``c1``, ``c2`` and the
    1x1 shortcut ``c3``; ``context_resblock`` with the default ``cn_type='v1'``: the same three,
    but the calls for ``cmp_conv5_atrous`` and ``cmp_conv6_atrous`` pass no ``debug`` and so take
    the ``'old'`` branch, with ``c1`` and ``c2`` only). Context normalisation has no variables.
    The mask branch's ``mask_conv8`` reads ``mask_conv4_atrous``'s output; the image branch's
    ``cmp_compress_conv1`` reads the concatenation of ``cmp_deconv101`` (cnum channels) and the
    mask branch's ``mask_conv5_atrous`` features upsampled (4 cnum).
    """
    c = cnum
    out: dict[str, tuple[int, ...]] = {}

    def conv(scope: str, k: int, cin: int, cout: int) -> None:
        out[f"{VCNET_SCOPE}/{scope}/kernel"] = (k, k, cin, cout)
        out[f"{VCNET_SCOPE}/{scope}/bias"] = (cout,)

    def block(name: str, k: int, cin: int, cout: int, shortcut: bool = True) -> None:
        conv(f"{name}/c1", k, cin, cout)
        conv(f"{name}/c2", k, cout, cout)
        if shortcut:
            conv(f"{name}/c3", 1, cin, cout)

    # the mask prediction network
    block("mask_conv2", 5, 3, 2 * c)
    block("mask_conv3", 3, 2 * c, 4 * c)
    block("mask_conv4_atrous", 3, 4 * c, 4 * c)
    block("mask_conv5_atrous", 3, 4 * c, 4 * c)
    conv("mask_conv8", 3, 4 * c, 4 * c)
    block("mask_deconv9", 3, 4 * c, 2 * c)
    block("mask_deconv10", 3, 2 * c, c)
    conv("mask_compress_conv", 3, c, c // 2)
    conv("mask_output", 3, c // 2, 1)
    # the robust inpainting network
    block("cmp_conv1", 5, 3, c)
    block("cmp_conv2", 3, c, 2 * c)
    block("cmp_conv21", 3, 2 * c, 2 * c)
    block("cmp_conv3", 3, 2 * c, 4 * c)
    block("cmp_conv31", 3, 4 * c, 4 * c)
    block("cmp_conv4_atrous", 3, 4 * c, 4 * c)
    block("cmp_conv5_atrous", 3, 4 * c, 4 * c, shortcut=False)
    block("cmp_conv6_atrous", 3, 4 * c, 4 * c, shortcut=False)
    block("cmp_conv7_atrous", 3, 4 * c, 4 * c)
    block("cmp_conv8", 3, 4 * c, 4 * c)
    block("cmp_deconv9", 3, 4 * c, 2 * c)
    block("cmp_deconv91", 3, 2 * c, 2 * c)
    block("cmp_deconv10", 3, 2 * c, c)
    block("cmp_deconv101", 3, c, c)
    conv("cmp_compress_conv1", 3, 5 * c, c)
    conv("cmp_compress_conv2", 3, c, c // 2)
    conv("cmp_output", 3, c // 2, 3)
    return out


def read_vcnet_checkpoint(source: PathLike | TFCheckpoint) -> tuple[dict[str, np.ndarray], Report, int]:
    """The generator variables (HWIO, as stored) of an official VCNet checkpoint, checked strictly.

    ``source`` is a checkpoint folder, prefix or file, or one already opened. Returns the
    variables, the report of what was left out (the discriminators, optimiser state, counters,
    anything outside the generator) and ``cnum``. Every official variable must be present with
    its shape and nothing else may sit in the generator's scope.
    """
    ckpt = source if isinstance(source, TFCheckpoint) else open_checkpoint(source)
    where = f"{ckpt.prefix}.index"
    kind = looks_like(ckpt)
    if kind not in (None, "vcnet"):
        raise WeightsError(f"looks like a {kind} checkpoint, not vcnet: use holefill convert {kind}", where)
    first = ckpt.entries.get(f"{VCNET_SCOPE}/cmp_conv1/c1/kernel")
    if first is None or len(first.shape) != 4:
        raise WeightsError(f"has no {VCNET_SCOPE}/cmp_conv1/c1/kernel, so it is not a VCNet generator", where)
    cnum = int(first.shape[3])
    expected = vcnet_official_variables(cnum)
    report = Report()
    names = _classify(ckpt, report, VCNET_SCOPE, "discriminator", "the discriminators, not needed to fill")
    missing = sorted(set(expected) - set(names))
    unknown = sorted(set(names) - set(expected))
    misshapen = sorted(n for n in set(expected) & set(names) if tuple(ckpt.entries[n].shape) != expected[n])
    problems = []
    shortcuts = {n for n in expected if n.startswith(f"{VCNET_SCOPE}/cmp_") and "/c3/" in n}
    if any("/cn_se/" in n for n in unknown):
        problems.append(f"it holds squeeze-and-excitation variables ({next(n for n in unknown if '/cn_se/' in n)}) "
                        "of --cn_type se, which the official code cannot build; only the released --cn_type v1 "
                        "graph converts")
    elif shortcuts == set(missing) and not unknown:
        problems.append("its inpainting blocks have no 1x1 shortcuts (c3): a --cn_type old graph, which holefill "
                        "does not implement; only the released --cn_type v1 graph converts")
    else:
        if missing:
            problems.append(f"{len(missing)} official variables missing (e.g. {', '.join(missing[:2])})")
        if unknown:
            problems.append(f"{len(unknown)} {VCNET_SCOPE} variables match no layer (e.g. {', '.join(unknown[:2])}; "
                            "only the default cn_type v1 is read)")
        if misshapen:
            n = misshapen[0]
            problems.append(f"{n} has shape {list(ckpt.entries[n].shape)}, the graph needs {list(expected[n])}")
    if problems:
        raise WeightsError("does not fit the official VCNet graph: " + "; ".join(problems), where)
    report.used = len(names)
    return {n: ckpt.read(n) for n in names}, report, cnum


def load_official_vcnet(source: PathLike) -> Converted:
    """VCNet with the weights of an official TF1 checkpoint (its folder, prefix or a file of it).

    The variables are read and checked by :func:`read_vcnet_checkpoint`, then mapped with
    :func:`holefill.models.vcnet.official_variable_map`: conv kernels HWIO -> OIHW, biases as
    they are. The model is ``pcn: fixed`` (``--cn_type v1``) with ``cnum`` read from the kernels.
    """
    from holefill.models.registry import create_model
    from holefill.models.vcnet import official_variable_map

    ckpt = open_checkpoint(source)
    where = f"{ckpt.prefix}.index"
    variables, report, cnum = read_vcnet_checkpoint(ckpt)
    config: dict[str, object] = {"cnum": cnum, "pcn": "fixed"}
    try:
        model: InpaintModel = create_model("vcnet", **config)
    except ConfigError as exc:  # shapes no VCNet can have (an odd cnum)
        raise WeightsError(f"has shapes no vcnet can have ({exc})", where) from None
    mapping = official_variable_map(model.config)
    stray = sorted(set(variables) ^ set(mapping))
    if stray:  # the variable list and the model's map disagree: a holefill bug, said as such
        raise WeightsError(f"holefill's VCNet variable list and model disagree on {len(stray)} names "
                           f"(e.g. {stray[0]}); please report this", where)
    state: dict[str, torch.Tensor] = {}
    for name, value in variables.items():
        key, transform = mapping[name]
        tensor = torch.from_numpy(np.array(value, dtype=np.float32))
        if transform == "conv":
            tensor = tensor.permute(3, 2, 0, 1)  # HWIO -> OIHW
        state[key] = tensor.contiguous()
    load_state_strict(model, state, source=where)
    return Converted(model=model.eval(), files=ckpt.files, report=report, carried=config)
