"""Check the DeepFill converters against the authors' own TensorFlow graph code (run by hand).

Not part of the test suite: it needs TensorFlow 2.x (its v1 compatibility layer) in a separate
environment and the authors' ``inpaint_model.py`` and ``inpaint_ops.py`` from
github.com/JiahuiYu/generative_inpainting (tag v1.0.0 or branch v2.0.0), which holefill does
not ship. Stand-ins replace what TF 2 no longer has: ``neuralgym.ops.layers.resize`` (written
from its definition: a resize to ``scale`` times the size with ``align_corners=True``),
``tf.contrib``'s ``arg_scope`` (a no-op; the graph's defaults already say padding 'SAME') and
``tf.layers.conv2d`` (``kernel``/``bias`` variables in the layer's scope and ``tf.nn.conv2d``).

    # 1. in an environment with tensorflow and opencv-python-headless:
    python scripts/verify_deepfill_tf.py official OFFICIAL_DIR OUT_DIR
    # 2. with holefill:
    python scripts/verify_deepfill_tf.py compare deepfill_v2 OUT_DIR

Step 1 builds ``build_inpaint_net`` at the official width, loads random weights, runs a
24x32 image with a box hole, and saves a real TF checkpoint and the two stages' outputs; step
2 converts the checkpoint with ``holefill convert``'s loader and prints the largest differences.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types

import numpy as np


def official(source_dir: str, out_dir: str) -> None:
    import tensorflow as real_tf

    v1 = real_tf.compat.v1
    v1.disable_eager_execution()

    def conv2d(inputs, filters, kernel_size, strides=1, padding="SAME", dilation_rate=1, activation=None,  # type: ignore[no-untyped-def]
               name=None, reuse=None, **_):
        with v1.variable_scope(name, reuse=reuse):
            kernel = v1.get_variable("kernel", [kernel_size, kernel_size, int(inputs.shape[-1]), filters])
            bias = v1.get_variable("bias", [filters], initializer=v1.zeros_initializer())
        y = v1.nn.conv2d(inputs, kernel, [1, strides, strides, 1], padding,
                         dilations=[1, dilation_rate, dilation_rate, 1]) + bias
        return activation(y) if activation is not None else y

    class Proxy(types.ModuleType):
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return types.SimpleNamespace(conv2d=conv2d) if name == "layers" else getattr(v1, name)

    def resize(x, scale=2, to_shape=None, align_corners=True, dynamic=False, func=v1.image.resize_bilinear,  # type: ignore[no-untyped-def]
               name="resize"):
        shape = x.get_shape().as_list()
        size = [int(shape[1] * scale), int(shape[2] * scale)] if to_shape is None else to_shape
        return func(x, size, align_corners=align_corners)

    def module(name: str, **attrs) -> None:  # type: ignore[no-untyped-def]
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m

    def nothing(*_, **__) -> None:  # type: ignore[no-untyped-def]
        return None

    class Model:
        def __init__(self, name: str) -> None:
            self.name = name

    for name in ("tensorflow.contrib", "tensorflow.contrib.framework", "tensorflow.contrib.framework.python"):
        module(name)
    module("tensorflow.contrib.framework.python.ops", add_arg_scope=lambda f: f,
           arg_scope=lambda *a, **k: contextlib.nullcontext())
    module("neuralgym", get_gpus=nothing)
    module("neuralgym.models", Model=Model)
    module("neuralgym.ops")
    module("neuralgym.ops.layers", resize=resize, flatten=nothing, __all__=["resize", "flatten"])
    module("neuralgym.ops.summary_ops", scalar_summary=nothing, images_summary=nothing, gradients_summary=nothing,
           __all__=[])
    module("neuralgym.ops.loss_ops", __all__=[])
    module("neuralgym.ops.gan_ops", gan_wgan_loss=nothing, gradients_penalty=nothing, random_interpolates=nothing,
           gan_hinge_loss=nothing, __all__=[])
    sys.path.insert(0, source_dir)
    ops, graph = importlib.import_module("inpaint_ops"), importlib.import_module("inpaint_model")
    ops.tf = graph.tf = Proxy("tf")
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (1, 24, 32, 3)).astype(np.float32)
    mask = np.zeros((1, 24, 32, 1), np.float32)
    mask[:, 6:16, 8:22] = 1
    x, m = v1.constant(image * (1 - mask)), v1.constant(mask)
    net = graph.InpaintCAModel()
    try:
        stage1, stage2, _ = net.build_inpaint_net(x, m, config=None, training=False)  # v1.0.0
    except TypeError:
        stage1, stage2, _ = net.build_inpaint_net(x, m, training=False)  # v2.0.0
    with v1.Session() as sess:
        for var in v1.global_variables():
            shape = var.shape.as_list()
            scale = 1.3 / np.sqrt(np.prod(shape[:-1])) if len(shape) == 4 else 0.1
            var.load((rng.standard_normal(shape) * scale).astype(np.float32), sess)
        out1, out2 = sess.run([stage1, stage2])
        v1.train.Saver().save(sess, f"{out_dir}/snap")
    np.savez(f"{out_dir}/io.npz", image=image[0], mask=mask[0, :, :, 0], stage1=out1[0], stage2=out2[0])


def compare(model: str, out_dir: str) -> None:
    import torch

    from holefill.models.convert import convert_checkpoint

    data = np.load(f"{out_dir}/io.npz")
    converted = convert_checkpoint(model, [out_dir])
    rgb = np.ascontiguousarray(data["image"][..., ::-1])  # the official graph saw these channels as BGR
    with torch.no_grad():
        out = converted.model(torch.from_numpy(rgb).permute(2, 0, 1)[None], torch.from_numpy(data["mask"])[None, None])
    ours1 = out.coarse[0].permute(1, 2, 0).numpy()[..., ::-1]
    ours2 = out.output[0].permute(1, 2, 0).numpy()[..., ::-1]
    print(f"{model}: {'; '.join(converted.report.lines())}; max |diff| stage 1 {np.abs(ours1 - data['stage1']).max():.2e},"
          f" stage 2 {np.abs(ours2 - data['stage2']).max():.2e} (mean |output| {np.abs(data['stage2']).mean():.3f})")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("official", "compare"):
        sys.exit(__doc__)
    (official if sys.argv[1] == "official" else compare)(sys.argv[2], sys.argv[3])
