"""ONNX export: every registered generator's graph equals PyTorch on three sizes, and the
shipped model runs through ONNX Runtime (holefill export, --backend onnxruntime)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from holefill.cli import app
from holefill.errors import InvalidArgumentError, OutputExistsError, WeightsError
from holefill.export import OnnxGenerator, export_onnx, sample_inputs
from holefill.models import create_model, list_models
from holefill.models.base import InpaintModel
from holefill.models.registry import INPAINT_TASKS, model_entry
from holefill.models.shipped import shipped_weights_for
from holefill.pipeline import ModelFiller

#: The inpainting generators (upscalers and image generators have no (image, mask) graph).
MODELS = [n for n in list_models() if model_entry(n).tasks == INPAINT_TASKS]
#: The parity asked of every exported graph (outputs live in [-1, 1]).
TOLERANCE = 1e-4


def lively(name: str, seed: int = 0) -> InpaintModel:
    """The tiny variant with weights whose outputs are not vanishingly small (untrained
    Glorot-initialised stacks shrink their signal to ~1e-7, where any error is below 1e-4),
    batch-norm statistics set from a few random batches, in eval mode. The weights' gain
    grows until the output on a sample reaches 0.05 (gated stacks need more than others)."""
    for gain in (1.0, 1.5, 2.0, 2.5, 3.0):
        model = _with_gain(name, seed, gain)
        image, mask = sample_inputs(model, n=1, seed=7)
        with torch.no_grad():
            if float(model(image, mask).output.abs().max()) > 0.05:
                break
    return model


def _with_gain(name: str, seed: int, gain: float) -> InpaintModel:
    torch.manual_seed(seed)
    model = create_model(name, **model_entry(name).tiny)
    with torch.no_grad():
        for module in model.modules():
            weight = getattr(module, "weight", None)
            if isinstance(weight, torch.Tensor) and weight.dim() == 4:
                fan_in = weight[0].numel() if not isinstance(module, torch.nn.ConvTranspose2d) else \
                    weight.shape[0] * weight[0, 0].numel() // 4
                weight.normal_(0.0, gain / fan_in ** 0.5)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if norms:
        for m in norms:
            m.momentum = None
            m.reset_running_stats()
        model.train()
        with torch.no_grad():
            for k in range(3):
                model(*sample_inputs(model, n=2, seed=50 + k))
    return model.eval()


def sizes_for(model: InpaintModel) -> list[tuple[int, int]]:
    """Three sizes the model takes (the fixed one for fixed-size models), none the export's."""
    if model.fixed_size is not None:
        return [model.fixed_size]
    k = model.size_multiple
    return [(k * max(1, 16 // k), k * max(1, 24 // k)), (k * max(2, 40 // k), k * max(1, 16 // k)),
            (k * max(3, 72 // k), k * max(2, 56 // k))]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[InpaintModel, Path]]:
    return {"_dir": tmp_path_factory.mktemp("onnx")}  # type: ignore[dict-item]


@pytest.mark.parametrize("name", MODELS)
def test_exported_graph_equals_pytorch_on_three_sizes(name: str, graphs: dict) -> None:
    model = lively(name)
    path = graphs["_dir"] / f"{name}.onnx"
    result = export_onnx(model, path)
    assert result.path == path and path.is_file()
    assert result.dynamic == (model.fixed_size is None)
    graph = OnnxGenerator(path)
    assert graph.architecture == name and graph.size_multiple == model.size_multiple
    assert graph.input_names == ["image", "mask", *model.graph_inputs(*sample_inputs(model)).keys()]
    for n, size in zip((1, 3, 2), sizes_for(model)):
        image, mask = sample_inputs(model, n=n, size=size, seed=7)
        with torch.no_grad():
            expected = model(image, mask).output.numpy()
            got = graph.run(image, mask, model.graph_inputs(image, mask))
        assert got.shape == expected.shape == (n, 3, *size)
        scale = float(np.abs(expected).max())
        assert scale > 0.05, f"{name}: outputs too small ({scale:.2g}) for the comparison to mean anything"
        error = float(np.abs(got - expected).max())
        assert error <= TOLERANCE, f"{name} at {size}: the graph differs from PyTorch by {error:.3g}"
    graphs[name] = (model, path)


def test_graph_refuses_a_wrong_size_and_missing_inputs(graphs: dict) -> None:
    model, path = graphs.get("deepfill_v2") or pytest.fail("the deepfill_v2 export test did not run first")
    graph = OnnxGenerator(path)
    image, mask = sample_inputs(model, n=1, size=(20, 24))  # 20 is not a multiple of 8
    with pytest.raises(InvalidArgumentError, match="multiples of 8"):
        graph.run(image, mask)
    model_e, path_e = graphs.get("edgeconnect") or pytest.fail("the edgeconnect export test did not run first")
    with pytest.raises(InvalidArgumentError, match="edges"):
        OnnxGenerator(path_e).run(*sample_inputs(model_e, n=1))


def test_export_never_replaces_a_file_unasked_and_wants_dot_onnx(tmp_path: Path) -> None:
    model = create_model("glcic", cnum=8)
    target = tmp_path / "g.onnx"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        export_onnx(model, target)
    assert target.read_bytes() == b"keep me"
    with pytest.raises(InvalidArgumentError, match=r"\.onnx"):
        export_onnx(model, tmp_path / "g.pt")


def test_not_a_graph_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(WeightsError, match="ONNX Runtime"):
        OnnxGenerator(bad)
    with pytest.raises(WeightsError, match="no such"):
        OnnxGenerator(tmp_path / "missing.onnx")


# -- the shipped model, through the CLI and the onnxruntime backend ---------------------------

def test_shipped_model_exports_and_fills_through_onnxruntime_like_pytorch(tmp_path: Path) -> None:
    folder = shipped_weights_for("deepfill_v2_lite")
    assert folder is not None
    shipped_graph = folder / "model.onnx"
    assert shipped_graph.is_file(), "the shipped model's graph is missing (holefill export deepfill_v2_lite --shipped)"

    out = tmp_path / "lite.onnx"
    result = CliRunner().invoke(app, ["export", "deepfill_v2_lite", "--shipped", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "dynamic" in result.output and out.is_file()
    again = CliRunner().invoke(app, ["export", "deepfill_v2_lite", "--shipped", "-o", str(out)])
    assert again.exit_code == 2 and "error:" in again.output  # never replaced unasked

    rng = np.random.default_rng(0)
    image = (rng.random((44, 60, 3)) * 255).astype(np.uint8)  # padded to 48x64 inside
    mask = np.zeros((44, 60), bool)
    mask[10:30, 20:45] = True
    torch_filler = ModelFiller.from_pretrained(folder)
    for graph in (shipped_graph, out):
        onnx_filler = ModelFiller.from_pretrained(folder, backend="onnxruntime") if graph == shipped_graph else \
            ModelFiller.from_pretrained(graph, backend="onnxruntime")
        assert onnx_filler.graph is not None and not onnx_filler.stochastic
        a, b = torch_filler.fill(image, mask), onnx_filler.fill(image, mask)
        assert np.array_equal(a[~mask], image[~mask]) and np.array_equal(b[~mask], image[~mask])
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # rounding to uint8 may differ by one level


def test_backend_option_through_the_cli_and_its_errors(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    hole = np.zeros((40, 48), np.uint8)
    hole[8:24, 16:32] = 255
    Image.fromarray(hole).save(tmp_path / "mask.png")
    runner = CliRunner()
    ok = runner.invoke(app, ["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o",
                             str(tmp_path / "out.png"), "-m", "deepfill_v2_lite", "--backend", "onnxruntime"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "out.png").is_file()
    classical = runner.invoke(app, ["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o",
                                    str(tmp_path / "c.png"), "-m", "telea", "--backend", "onnxruntime"])
    assert classical.exit_code == 2 and "classical" in classical.output
    unknown = runner.invoke(app, ["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o",
                                  str(tmp_path / "u.png"), "-m", "deepfill_v2_lite", "--backend", "tensorrt"])
    assert unknown.exit_code == 2 and "backend must be one of" in unknown.output
    create_model("glcic", cnum=8).save_pretrained(tmp_path / "w")
    missing = runner.invoke(app, ["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o",
                                  str(tmp_path / "m.png"), "-m", "glcic", "-w", str(tmp_path / "w"),
                                  "--backend", "onnxruntime"])
    assert missing.exit_code == 2 and "holefill export glcic" in missing.output


def test_instance_norm_exports_with_staged_means_that_hold_on_large_flat_maps() -> None:
    """ONNX Runtime sums a whole-map mean one float32 at a time; the export's staged form (rows,
    then the column of row means) must match float64 on a large map whose mean dwarfs its
    spread (an image's flat region), with and without an affine part, and equal PyTorch's
    instance norm in PyTorch."""
    import torch.nn.functional as F

    from holefill.export import _export, _staged_instance_norm

    class Norm(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.affine = torch.nn.InstanceNorm2d(3, affine=True)
            with torch.no_grad():
                self.affine.weight.copy_(torch.tensor([0.5, 2.0, -1.0]))
                self.affine.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.affine(x) + F.instance_norm(x) * mask

    torch.manual_seed(0)
    x = torch.randn(1, 3, 512, 512) * 0.5 + 20.0
    mask = torch.ones(1, 1, 512, 512)
    net = Norm().eval()
    with torch.no_grad():
        reference = net.double()(x.double(), mask.double()).float().numpy()
        net.float()
        assert torch.allclose(_staged_instance_norm(x), F.instance_norm(x), atol=1e-4)
    spec = {2: 8 * torch.export.Dim("h", min=1, max=128), 3: 8 * torch.export.Dim("w", min=1, max=128)}
    proto = _export(net, (x, mask), [], spec).model_proto  # type: ignore[arg-type]
    assert "InstanceNormalization" not in {node.op_type for node in proto.graph.node}
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy(), "mask": mask.numpy()})[0]
    assert np.abs(got - reference).max() < 5e-5  # ONNX Runtime's own InstanceNormalization: about 1e-4 here
    assert F.instance_norm is not _staged_instance_norm  # restored after the export
