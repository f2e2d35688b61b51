"""Data and weights commands: mask sets, the photo corpus, model architectures and shipped
weights, and converting the authors' checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from holefill.cli.common import OverwriteOpt, QuietOpt, echo_err, handles_errors, parse_options, sub_app
from holefill.errors import InvalidArgumentError


def register(app: typer.Typer) -> None:
    """Add this group's commands to ``app`` (``data`` is a sub-command group)."""
    data_app = sub_app("Build datasets.")
    data_app.command("photos")(data_photos)
    data_app.command("crops")(data_crops)
    data_app.command("shapes")(data_shapes)
    data_app.command("labels")(data_labels)
    app.add_typer(data_app, name="data")
    app.command()(masks)
    app.command("models")(models_cmd)
    app.command("convert")(convert_cmd)
    app.command("export")(export_cmd)


@handles_errors
def data_labels(
    corpus: Path = typer.Argument(..., help="A photo corpus (from holefill data photos)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the pairs: images/<split>/, annotations/<split>/."),
    classes: int = typer.Option(12, "--classes", help="Label classes (k-means clusters of superpixels)."),
    segments: int = typer.Option(300, "--segments", help="SLIC superpixels per photo (about)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the clustering."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Image + label-map pairs in COCO-Stuff's layout for a photo corpus, from an unsupervised
    segmentation (superpixels clustered into --classes classes), for cto_gan's CPU training."""
    from holefill.data.layouts import write_label_corpus

    if not 1 <= segments <= 100_000:
        raise InvalidArgumentError(f"--segments must be between 1 and 100000, got {segments}")
    if seed < 0:
        raise InvalidArgumentError(f"--seed must be >= 0, got {seed}")
    counts = write_label_corpus(corpus, output, classes=classes, segments=segments, seed=seed, overwrite=overwrite)
    echo_err(f"labelled {', '.join(f'{n} {split}' for split, n in counts.items())} photos into {classes} classes "
             f"-> {output}")


def _parse_size(value: str) -> tuple[int, int]:
    """``--size`` as (h, w): "256" is 256x256, "256x192" is 256 wide and 192 high."""
    text = value.strip().lower()
    parts = text.split("x")
    try:
        if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
            raise ValueError
        w = int(parts[0])
        h = int(parts[1]) if len(parts) == 2 else w
        if not (1 <= w <= 16384 and 1 <= h <= 16384):
            raise ValueError
    except ValueError:
        raise InvalidArgumentError(f"--size takes W or WxH in pixels (1..16384), e.g. 256 or 256x192, got {value!r}") from None
    return h, w


@handles_errors
def masks(
    output: Path = typer.Option(..., "--output", "-o", help="Folder to write the masks into (000.png, 001.png, ...)."),
    kind: Optional[str] = typer.Option(None, "--kind", "-k", help="Mask kind: center, box, region, freeform, irregular, outpaint, mixture (default mixture)."),
    ratio: Optional[str] = typer.Option(None, "--ratio", "-r", help="Hole-ratio range, e.g. 20-30 (percent) or 0.2-0.3; default any."),
    count: Optional[int] = typer.Option(None, "--count", "-n", help="Masks per set (default 100)."),
    size: str = typer.Option("256", "--size", "-s", help="Mask size: W or WxH, e.g. 256 or 256x192."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the set (default 0); the same seed gives the same masks."),
    standard: bool = typer.Option(False, "--standard", help="Write every set of the standard benchmark into OUTPUT/<label>/."),
    option: Optional[list[str]] = typer.Option(None, "--option", "-O", help="A generator parameter as key=value, e.g. -O sides=left. Repeatable."),
    overwrite: bool = OverwriteOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Write a fixed, seeded mask set for one hole-ratio bucket, or the standard benchmark's sets."""
    from holefill.masks import (
        STANDARD_COUNT,
        STANDARD_SEED,
        hole_ratio,
        mask_set,
        parse_ratio,
        standard_mask_sets,
        write_mask_set,
        write_mask_sets,
    )

    h, w = _parse_size(size)
    n = STANDARD_COUNT if count is None else count
    if n < 1:
        raise InvalidArgumentError(f"--count must be at least 1, got {n}")
    s = STANDARD_SEED if seed is None else seed
    if s < 0:
        raise InvalidArgumentError(f"--seed must be a non-negative integer, got {s}")
    if standard:
        if kind is not None or ratio is not None or option:
            raise InvalidArgumentError("--standard writes the fixed protocol sets; it takes no --kind, --ratio or --option")
        sets = standard_mask_sets(size=(h, w), count=n, seed=s)
        write_mask_sets(sets, output, overwrite=overwrite)
        means = ", ".join(f"{label} {sum(hole_ratio(m) for m in ms) / len(ms):.3f}" for label, ms in sets.items())
        total = sum(len(ms) for ms in sets.values())
        if not quiet:
            echo_err(f"wrote {total} masks ({w}x{h}, {len(sets)} sets of {n}, seed {s}) to {output}; mean hole ratio: {means}")
        return
    lo, hi = parse_ratio(ratio) if ratio is not None else (0.0, 1.0)
    name = kind or "mixture"
    made = mask_set(name, lo, hi, n, (h, w), s, **parse_options(option))
    write_mask_set(made, output, overwrite=overwrite)
    mean = sum(hole_ratio(m) for m in made) / len(made)
    if not quiet:
        echo_err(f"wrote {len(made)} {name} masks ({w}x{h}, hole ratio {100 * lo:g}-{100 * hi:g} %, seed {s})"
                 f" to {output}; mean hole ratio {mean:.3f}")


@handles_errors
def models_cmd() -> None:
    """List the model architectures (parameter counts of their paper configs) and the weights
    shipped in the package (ready methods)."""
    from holefill.methods import LEARN_HINT, learning_available

    if not learning_available():
        from holefill.errors import MissingDependencyError

        raise MissingDependencyError(f"the model architectures and shipped weights need PyTorch: {LEARN_HINT}")
    import torch

    from holefill.models.base import read_config
    from holefill.models.registry import create_model, list_models, model_entry
    from holefill.models.shipped import list_shipped

    names = list_models()
    shipped = list_shipped()
    if not names:
        typer.echo("no model architectures are registered")
        return
    width = max(len(n) for n in names + [s.name for s in shipped])
    typer.echo("architectures (train them, or pass --weights):")
    for name in names:
        try:  # counted without allocating the weights (bct_blend's paper config has 259 M)
            with torch.device("meta"):
                params = create_model(name).num_parameters()
        except (RuntimeError, NotImplementedError):
            params = create_model(name).num_parameters()
        typer.echo(f"  {name:<{width}}  {params / 1e6:>6.2f} M params  {model_entry(name).summary}")
    typer.echo("shipped weights (ready: --method NAME; model card in the folder):")
    if not shipped:
        typer.echo("  none")
    for s in shipped:
        params = read_config(s.path).get("num_parameters", 0)
        typer.echo(f"  {s.name:<{width}}  {params / 1e6:>6.2f} M params  {s.summary or s.architecture}")


@handles_errors
def convert_cmd(
    model: str = typer.Argument(..., help="The model: deepfill_v1, deepfill_v2, vcnet, glcic, context_encoder, "
                                          "edgeconnect, pennet or bct_blend."),
    sources: list[Path] = typer.Argument(..., help="The official checkpoint: deepfill_v1/v2 and vcnet the TensorFlow "
                                                   "model folder (or a checkpoint prefix / .index), glcic a "
                                                   "completionnet_*.t7, "
                                                   "context_encoder a *_inpaintCenter.t7, edgeconnect a model folder "
                                                   "(or its EdgeModel_gen.pth and InpaintingModel_gen.pth), pennet a "
                                                   "gen_XXXXX.pth, bct_blend the released Gen file."),
    output: Path = typer.Option(..., "--output", "-o", help="The weights folder to write (new or empty)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace weights already in the folder."),
) -> None:
    """Turn the authors' released checkpoints into a weights folder for --weights (with their licence note)."""
    from holefill.methods import LEARN_HINT, learning_available

    if not learning_available():
        from holefill.errors import MissingDependencyError

        raise MissingDependencyError(f"converting checkpoints needs PyTorch: {LEARN_HINT}")
    from holefill.models.convert import convert_official

    folder = convert_official(model, sources, output, overwrite=overwrite, echo=echo_err)
    blind = "; --blind finds the damage itself" if model == "vcnet" else ""
    echo_err(f"converted {model} from {', '.join(str(s) for s in sources)} -> {folder}"
             f" (use --method {model} --weights {folder}{blind})")


@handles_errors
def export_cmd(
    model: str = typer.Argument(..., help="The architecture (see `holefill models`), or a shipped weights name with "
                                          "--shipped."),
    output: Path = typer.Option(..., "--output", "-o", help="The .onnx file to write."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="The weights folder to export."),
    shipped: bool = typer.Option(False, "--shipped", help="Export the weights shipped in the package under MODEL's name."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Export a generator to ONNX (dynamic batch, height and width), checked against PyTorch.

    Put the file in the weights folder as model.onnx and run it with --backend onnxruntime.
    """
    from holefill.export import export_onnx
    from holefill.models.registry import load_model
    from holefill.models.shipped import shipped_weights_for

    if shipped == (weights is not None):
        raise InvalidArgumentError("give --weights DIR, or --shipped to export the weights shipped under MODEL's name")
    if shipped:
        folder = shipped_weights_for(model)
        if folder is None:
            raise InvalidArgumentError(f"no shipped weights are named {model!r} (see `holefill models`)")
        net = load_model(folder)
    else:
        assert weights is not None
        net = load_model(weights, expect=model)
    result = export_onnx(net, output, overwrite=overwrite)
    shape = "dynamic batch, height and width" if result.dynamic else f"fixed size {net.fixed_size}"
    echo_err(f"exported {net.architecture} -> {result.path} (inputs {', '.join(result.inputs)}; {shape}; "
             f"largest difference from PyTorch {result.max_error:.2g})")


@handles_errors
def data_photos(
    output: Path = typer.Option(..., "--output", "-o", help="Folder to build the corpus in (new or empty)."),
    size: int = typer.Option(256, "--size", help="Side of the square crops, in pixels."),
    short_side: int = typer.Option(512, "--short-side", help="Photos are scaled to this short side before cropping."),
    sources: str = typer.Option("lomiri-16.04,lomiri-20.04,mate,skimage", "--sources",
                                help="Comma-separated sources: lomiri-16.04, lomiri-20.04, mate, skimage."),
    backgrounds_root: Path = typer.Option(Path("/usr/share/backgrounds"), "--backgrounds-root",
                                          help="Where the Debian wallpaper packages put their photos."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Warn about missing packages and build without them."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a corpus already in the folder."),
    quiet: bool = QuietOpt,
) -> None:
    """Build the photo corpus (crops, scaled photos, manifest, licences, splits) from free photos."""
    from holefill.data.corpus import build_photo_corpus

    summary = build_photo_corpus(output, size=size, short_side=short_side, sources=sources,
                                 backgrounds_root=backgrounds_root, allow_missing=allow_missing,
                                 overwrite=overwrite, progress=not quiet)
    typer.echo(summary.describe())


@handles_errors
def data_crops(
    folders: list[Path] = typer.Argument(..., help="Folders of photos, e.g. corpus/photos/val corpus/photos/test."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder to write the crops into."),
    per_photo: int = typer.Option(16, "--per-photo", help="Crops per photo (1-256; they may overlap)."),
    size: int = typer.Option(256, "--size", help="Side of the square crops, in pixels."),
    short_side: int = typer.Option(512, "--short-side", help="Photos are scaled to this short side first."),
    seed: int = typer.Option(0, "--seed", help="Seed of the crop positions."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace crops already in the folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Cut many seeded crops per photo (PHOTO_k.png), for a larger evaluation than the corpus crops."""
    from holefill.data.corpus import cut_crops

    counts = cut_crops(folders, output, per_photo=per_photo, size=size, short_side=short_side, seed=seed,
                       overwrite=overwrite, progress=not quiet)
    typer.echo(f"wrote {sum(counts.values())} crops of {size}x{size} from {len(counts)} photos to {output}")


@handles_errors
def data_shapes(
    output: Path = typer.Option(..., "--output", "-o", help="Folder to write the scenes into (new or empty)."),
    count: int = typer.Option(4000, "--count", "-n", help="How many scenes (1 to 100000)."),
    size: int = typer.Option(32, "--size", help="Side of the square scenes, in pixels (16 to 512)."),
    seed: int = typer.Option(0, "--seed", help="The seed; the same seed gives the same scenes."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Write synthetic scenes (a coloured disc, square or triangle on a smooth background) for GIRAFFE."""
    from holefill.data.shapes import write_shapes

    folder = write_shapes(output, count, size, seed, overwrite=overwrite)
    echo_err(f"wrote {count} scenes ({size}x{size}, seed {seed}) to {folder}")
