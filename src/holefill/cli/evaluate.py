"""Training and evaluation commands: bench (compare methods), eval (score one), train."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from holefill.cli.common import (
    BackendOpt,
    DeviceOpt,
    MethodOpt,
    MethodRow,
    OptionOpt,
    OverwriteOpt,
    QuietOpt,
    WeightsOpt,
    echo_err,
    handles_errors,
    make_filler,
    method_rows,
    parse_weights,
)
from holefill.errors import InvalidArgumentError

if TYPE_CHECKING:
    from holefill.metrics import Evaluator


def register(app: typer.Typer) -> None:
    """Add this group's commands to ``app``."""
    app.command()(bench)
    app.command("eval")(eval_cmd)
    app.command("train")(train_cmd)


def _mask_sets_for(images: Path, imgs: list, masks: Path | None, generate: bool, sets: str | list[str] | None,
                   count: int | None, seed: int, guided_seed: int | None = None) -> tuple[dict, str]:
    """The mask sets for bench/eval, and the report line that says where they came from."""
    from holefill import benchmark as B
    from holefill.masks.protocol import read_mask_sets

    if (masks is None) == (not generate):
        raise InvalidArgumentError("give either --masks DIR or --generate")
    if isinstance(sets, str):
        sets = [x for x in sets.split(",")]
    chosen = [x.strip() for x in sets or [] if x.strip()] or None
    if generate:
        size = imgs[0][1].shape[:2]
        n = count if count is not None else min(len(imgs), 100)
        if n < 1:
            raise InvalidArgumentError(f"--count must be at least 1, got {n}")
        return B.generated_mask_sets(size, n, seed, chosen), B.protocol_notes(images, len(imgs), "generated", size, n,
                                                                               seed, guided_seed)
    assert masks is not None
    loaded = read_mask_sets(masks)
    if chosen:
        missing = [c for c in chosen if c not in loaded]
        if missing:
            raise InvalidArgumentError(f"has no mask set {', '.join(missing)}; it has {', '.join(loaded)}", masks)
        loaded = {c: loaded[c] for c in chosen}
    return loaded, B.protocol_notes(images, len(imgs), str(masks), None, None, seed, guided_seed)


FidWeightsOpt = typer.Option(None, "--fid-weights", help="The FID port's Inception weights "
                             "(pt_inception-2015-12-05-*.pth): adds FID and KID (or set HOLEFILL_FID_WEIGHTS).")
LpipsWeightsOpt = typer.Option(None, "--lpips-weights", help="LPIPS's alex.pth or vgg.pth: adds LPIPS "
                               "(or set HOLEFILL_LPIPS_WEIGHTS).")
LpipsTrunkOpt = typer.Option(None, "--lpips-trunk", help="torchvision's AlexNet or VGG-16 weights for LPIPS "
                             "(or set HOLEFILL_LPIPS_TRUNK).")


def _run_bench(fillers: dict, images: Path, masks: Path | None, generate: bool, sets: str | list[str] | None,
               count: int | None, seed: int, limit: int | None, out_dir: Path | None, overwrite: bool, quiet: bool,
               title: str, base=None, perceptual=None, guided: bool = False):
    """Shared by ``bench`` and ``eval``: load, pair, fill, score and (optionally) write the report.

    ``base`` (an Evaluator read from an earlier report in ``out_dir``) gets the new records
    after a check that this run pairs the same images and masks. ``perceptual`` (a
    PerceptualScorer) adds FID, KID and LPIPS, or the report's note on why they are missing.
    """
    from holefill import benchmark as B
    from holefill.metrics import Evaluator

    if out_dir is not None and base is None:
        B.check_report_dir(out_dir, overwrite=overwrite)
    imgs = B.load_images(images, limit)
    guided_seed = seed if guided else None
    mask_sets, notes = _mask_sets_for(images, imgs, masks, generate, sets, count, seed, guided_seed)
    if base is not None:
        B.check_same_pairs(base, B.pairs(imgs, mask_sets), out_dir)
        base.notes = notes
    evaluator = B.run_benchmark(fillers, imgs, mask_sets, evaluator=base or Evaluator(title=title, notes=notes),
                                progress=not quiet, perceptual=perceptual, guided_seed=guided_seed)
    if out_dir is not None:
        paths = B.write_report(evaluator, out_dir, overwrite=overwrite, perceptual=perceptual)
        if not quiet:
            echo_err("report: " + ", ".join(str(paths[k]) for k in ("report", "summary", "results", "chart", "perceptual")
                                            if k in paths))
    return evaluator


def _perceptual(fid_weights: Path | None, lpips_weights: Path | None, lpips_trunk: Path | None, device: str | None,
                adding: bool = False):
    """The FID/KID/LPIPS scorer for the files given (or named in the environment)."""
    from holefill.metrics.perceptual import perceptual_scorer

    scorer = perceptual_scorer(fid_weights, lpips_weights, lpips_trunk, device=device or "cpu")
    if adding and scorer.active:
        raise InvalidArgumentError("--add-to keeps an earlier report's results, which have no FID/KID/LPIPS; write a "
                                   "new report with -o to add them")
    return scorer


def _echo_perceptual(scorer) -> None:
    from holefill import benchmark as B

    if scorer.active:
        typer.echo(B.perceptual_table(scorer))
    for why in scorer.missing.values():
        echo_err(f"note: {why}")


@handles_errors
def bench(
    images: Path = typer.Option(..., "--images", help="Folder of ground-truth images (e.g. the corpus test crops)."),
    methods: Optional[str] = typer.Option(None, "--methods", help="Comma-separated methods; default: every ready "
                                          "method. A row NAME:KEY=VALUE;KEY=VALUE passes options (as -O does), so a "
                                          "method can appear at several settings."),
    masks: Optional[Path] = typer.Option(None, "--masks", help="Folder of mask sets (one subfolder per set)."),
    generate: bool = typer.Option(False, "--generate", help="Use the standard protocol's mask sets, generated."),
    sets: Optional[str] = typer.Option(None, "--sets", help="Only these mask sets, comma-separated (e.g. 20-30,center)."),
    count: Optional[int] = typer.Option(None, "--count", help="Masks per generated set (default: one per image, at most 100)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated mask sets."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N images."),
    weights: Optional[list[str]] = typer.Option(None, "--weights", "-w", help="Weights for a learned method: name=DIR. Repeatable."),
    device: Optional[str] = DeviceOpt,
    backend: Optional[str] = BackendOpt,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Report folder (default: bench-<date-time>)."),
    add_to: Optional[Path] = typer.Option(None, "--add-to", help="Add these methods to an earlier report folder "
                                          "(same images and masks); its results are kept and the report rewritten."),
    fid_weights: Optional[Path] = FidWeightsOpt,
    lpips_weights: Optional[Path] = LpipsWeightsOpt,
    lpips_trunk: Optional[Path] = LpipsTrunkOpt,
    blind: bool = typer.Option(False, "--blind", help="The blind protocol: damage each image (strokes of other "
                               "images, graffiti, text, scratches) and score finding and repairing it."),
    kinds: Optional[str] = typer.Option(None, "--kinds", help="--blind: only these damage kinds, comma-separated."),
    references: Optional[str] = typer.Option(None, "--references", help="--blind: inpainting methods given the true "
                                             "mask, comma-separated (default: every classical method)."),
    finder: Optional[str] = typer.Option(None, "--finder", help="--blind: the blind method that finds the damage for "
                                         "inpainting methods in --methods (default: the shipped VCNet)."),
    guided: bool = typer.Option(False, "--guided", help="The guided protocol: every image also gets a guide photo "
                                "(itself transformed, relit, amid another image); guided methods fill from it (each "
                                "also without its lighting match, as NAME-nolight), the others fill as usual."),
    db: Optional[Path] = typer.Option(None, "--db", help="The photo folder of scene completion (method scene)."),
    overwrite: bool = OverwriteOpt,
    quiet: bool = QuietOpt,
    blend: bool = typer.Option(False, "--blend", help="The blending benchmark instead: panoramas cut from the photos "
                               "in --images (two 256x256 sides, a 256-wide gap with known truth); every method that "
                               "blends."),
    windows: int = typer.Option(4, "--windows", help="With --blend: panoramas per photo."),
) -> None:
    """Compare methods on fixed mask sets: PSNR, SSIM, hole L1 and s/img per method and set (and FID, KID and
    LPIPS when their weight files are given).

    With --blend, compare blending methods on self-reconstruction panoramas instead. With
    --blind: how well blind methods find and repair damage, beside the damaged input and
    inpainting methods given the true mask.
    """
    from holefill import benchmark as B
    from holefill.methods import get_filler, get_guided_filler, get_method, list_methods

    if blind:
        clash = [flag for flag, value in (("--masks", masks), ("--generate", generate), ("--sets", sets),
                                          ("--count", count), ("--add-to", add_to)) if value]
        if clash:
            raise InvalidArgumentError(f"--blind makes its own damaged images: it takes no {clash[0]}")
        _bench_blind(images, methods, references, kinds, finder, seed, limit, weights, device, output, overwrite, quiet)
        return
    given = [flag for flag, value in (("--kinds", kinds), ("--references", references), ("--finder", finder)) if value]
    if given:
        raise InvalidArgumentError(f"{given[0]} goes with --blind")
    if blend:
        if masks is not None or generate or sets or count is not None:
            raise InvalidArgumentError("--blend cuts its own panoramas; leave out --masks, --generate, --sets and --count")
        if fid_weights is not None or lpips_weights is not None or lpips_trunk is not None:
            raise InvalidArgumentError("--blend scores the middle against its truth; FID and LPIPS are not part of it")
        _bench_blend(images, methods, seed, limit, weights, device, output, add_to, overwrite, quiet, windows)
        return
    base, out_dir, overwrite = _report_target(add_to, output, overwrite, "holefill bench", "bench")
    if (masks is None) == (not generate):
        raise InvalidArgumentError("give either --masks DIR or --generate")
    named_weights = parse_weights(weights)
    # By default every ready filler; latent-search fillers (generators) fill only images of their
    # generator's size, so they are benched when named with --methods.
    rows = method_rows(methods) if methods else \
        {m.name: MethodRow(m.name, {}) for m in list_methods() if m.ready and not m.requires and "generate" not in m.tasks
         and ("inpaint" in m.tasks or (guided and "guided" in m.tasks))
         and not (base and m.name in base.methods)}
    _check_method_names(rows, named_weights, base, add_to, explicit=bool(methods), what="ready method")
    scorer = _perceptual(fid_weights, lpips_weights, lpips_trunk, device, adding=base is not None)
    learned = {m.name for m in list_methods("learned")}
    if db is not None and all(row.method != "scene" for row in rows.values()):
        raise InvalidArgumentError("--db is the photo folder of scene completion: add scene to --methods")
    fillers: dict = {}
    for label, (n, options, row_weights) in rows.items():
        folder = row_weights or named_weights.get(n)
        if "guided" in get_method(n).tasks:
            if not guided:
                raise InvalidArgumentError(f"method {n!r} fills from a guide photo: add --guided (the guided protocol)")
            fillers[label] = get_guided_filler(n, weights=folder, device=device, **options)
            fillers[f"{label}-nolight"] = get_guided_filler(n, weights=folder, device=device,
                                                             **{**options, "colour_match": False})
        else:
            extra = {"db": db, "progress": not quiet} if n == "scene" else {}
            fillers[label] = get_filler(n, weights=folder, device=device,
                                        backend=backend if n in learned else None, **{**extra, **options})
    evaluator = _run_bench(fillers, images, masks, generate, sets, count, seed, limit, out_dir, overwrite, quiet,
                           "holefill bench", base=base, perceptual=scorer, guided=guided)
    typer.echo(B.summary_table(evaluator))
    _echo_perceptual(scorer)


def _report_target(add_to: Path | None, output: Path | None, overwrite: bool, title: str,
                   stem: str) -> tuple[Evaluator | None, Path, bool]:
    """Where a bench report goes: ``(base, out_dir, overwrite)``. With ``--add-to`` the earlier
    report (``base``) is read and rewritten in place, holding every earlier record; otherwise
    ``--output`` (or ``STEM-<time>``) is checked before any work."""
    from holefill import benchmark as B
    from holefill.metrics import Evaluator  # noqa: F811 - imported here at run time (the CLI starts fast)

    if add_to is not None:
        if output is not None:
            raise InvalidArgumentError("give --add-to or --output, not both")
        if not (add_to / "results.csv").is_file():
            raise InvalidArgumentError(f"holds no results.csv of an earlier {title}", add_to)
        return Evaluator.read_csv(add_to / "results.csv", title=title), add_to, True
    out_dir = output or Path(time.strftime(f"{stem}-%Y%m%d-%H%M%S"))
    B.check_report_dir(out_dir, overwrite=overwrite)
    return None, out_dir, overwrite


def _check_method_names(rows: dict[str, MethodRow], named_weights: dict, base, add_to: Path | None, *,
                        explicit: bool, what: str) -> None:
    """The rows of a bench run (by label): some, every ``--weights`` method among them, no
    label already in ``base``."""
    names = list(rows)
    if not names:
        raise InvalidArgumentError("--methods names no method" if explicit or base is None
                                   else f"every {what} is in the report already")
    stray = sorted(set(named_weights) - {row.method for row in rows.values()})
    if stray:
        raise InvalidArgumentError(f"--weights for {', '.join(stray)}, which is not in --methods")
    if base is not None:
        again = [n for n in names if n in base.methods]
        if again:
            raise InvalidArgumentError(f"already has results for {', '.join(again)}; leave them out of --methods, "
                                       "or write a new report with -o", add_to)


def _bench_blend(images: Path, methods: str | None, seed: int, limit: int | None, weights: list[str] | None,
                 device: str | None, output: Path | None, add_to: Path | None, overwrite: bool, quiet: bool,
                 windows: int) -> None:
    """``holefill bench --blend``: every blending method on the blend protocol's panoramas."""
    from holefill import benchmark as B
    from holefill.masks.blend_protocol import blend_items, describe_blend_protocol
    from holefill.methods import get_blender, list_methods
    from holefill.metrics import Evaluator

    base, out_dir, overwrite = _report_target(add_to, output, overwrite, "holefill bench --blend", "bench-blend")
    if base is not None:
        base.protocol = B.BLEND_PROTOCOL
    named_weights = parse_weights(weights)
    rows = method_rows(methods, "blend") if methods else \
        {m.name: MethodRow(m.name, {}) for m in list_methods(task="blend")
         if m.ready and not (base and m.name in base.methods)}
    _check_method_names(rows, named_weights, base, add_to, explicit=bool(methods), what="ready blending method")
    blenders = {label: get_blender(n, weights=row_weights or named_weights.get(n), device=device, **options)
                for label, (n, options, row_weights) in rows.items()}
    photos = B.load_images(images, limit)
    items = blend_items(photos, windows=windows, seed=seed)
    if base is not None:
        old, new = {r.image for r in base.records}, {item.name for item in items}
        if old != new:
            raise InvalidArgumentError(f"was made on other panoramas ({len(old ^ new)} differ); use the same --images, "
                                       "--windows, --seed and --limit", add_to)
    notes = (f"Photos: {len(photos)} from {images}. {describe_blend_protocol(len(photos), windows=windows, seed=seed)} "
             f"The true middles' relative TV: {100 * B.truth_texture(items):.2f} %.")
    evaluator = base or Evaluator(title="holefill bench --blend", notes=notes, protocol=B.BLEND_PROTOCOL)
    evaluator.notes = notes
    B.run_blend_benchmark(blenders, items, evaluator=evaluator, progress=not quiet)
    paths = B.write_report(evaluator, out_dir, overwrite=overwrite)
    echo_err(f"report: {paths['report']}, {paths['summary']}, {paths['results']}, {paths['chart']}")
    typer.echo(B.summary_table(evaluator))


@handles_errors
def eval_cmd(
    images: Path = typer.Option(..., "--images", help="Folder of ground-truth images."),
    method: Optional[str] = MethodOpt,
    weights: Optional[Path] = WeightsOpt,
    masks: Optional[Path] = typer.Option(None, "--masks", help="Folder of masks, or of mask sets (one subfolder each)."),
    generate: bool = typer.Option(False, "--generate", help="Use the standard protocol's mask sets, generated."),
    sets: Optional[str] = typer.Option(None, "--sets", help="Only these mask sets, comma-separated."),
    count: Optional[int] = typer.Option(None, "--count", help="Masks per generated set (default: one per image, at most 100)."),
    seed: int = typer.Option(0, "--seed", help="Seed of generated mask sets."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N images."),
    device: Optional[str] = DeviceOpt,
    backend: Optional[str] = BackendOpt,
    option: Optional[list[str]] = OptionOpt,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the report files (CSV, Markdown, chart) here."),
    fid_weights: Optional[Path] = FidWeightsOpt,
    lpips_weights: Optional[Path] = LpipsWeightsOpt,
    lpips_trunk: Optional[Path] = LpipsTrunkOpt,
    overwrite: bool = OverwriteOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Score one method (e.g. a trained model: --method M --weights DIR) on the benchmark protocol."""
    filler = make_filler(method, weights, device, option, backend=backend)
    scorer = _perceptual(fid_weights, lpips_weights, lpips_trunk, device)
    evaluator = _run_bench({filler.name: filler}, images, masks, generate, sets, count, seed, limit, output,
                           overwrite, quiet, f"holefill eval: {filler.name}", perceptual=scorer)
    typer.echo(evaluator.to_markdown())
    _echo_perceptual(scorer)


def _config_path(config: str) -> Path:
    """A config file, or the name of a config shipped in holefill/configs."""
    from holefill.train.config import bundled_configs

    path = Path(config)
    if not path.exists() and path.suffix == "" and config in bundled_configs():
        return bundled_configs()[config]
    return path


@handles_errors
def train_cmd(
    config: str = typer.Argument(..., help="A YAML training config (or the name of a bundled one)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: train.out, else runs/<config name>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the run folder from its last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start again in a run folder that holds a run."),
    set_: Optional[list[str]] = typer.Option(None, "--set", "-s", help="Override a config key: --set train.steps=100. Repeatable."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads of the training process (default: "
                                          "the CPUs that are free, less one per data-loader worker; printed at the start)."),
    quiet: bool = QuietOpt,
) -> None:
    """Train a model as CONFIG says; the EMA generator ends up in RUN/final (use it with --weights).

    Ctrl+C (or SIGTERM) stops after the current step and writes a checkpoint; --resume continues
    from it. Under torchrun every process runs this command; the global batch is data.batch_size
    times the number of processes.
    """
    from holefill.methods import LEARN_HINT, learning_available

    if not learning_available():
        from holefill.errors import MissingDependencyError

        raise MissingDependencyError(f"training needs PyTorch: {LEARN_HINT}")
    from holefill.train.config import load_config
    from holefill.train.recipes import recipe_config
    from holefill.train.trainer import Trainer, TrainingInterrupted

    if threads is not None and not 1 <= threads <= 1024:
        raise InvalidArgumentError(f"--threads must be 1 to 1024, got {threads}")
    overrides = list(set_ or []) + ([f"train.threads={threads}"] if threads is not None else [])
    path = _config_path(config)
    cfg = load_config(path, overrides)
    recipe_config(cfg)  # the recipe's own arguments, checked before any work starts
    start = time.perf_counter()
    trainer = Trainer(cfg, out, resume=resume, overwrite=overwrite, progress=not quiet)
    first = trainer.step
    try:
        final = trainer.fit()
    except TrainingInterrupted as stop:
        if trainer.is_main:
            # The run's own config.yaml holds every --set of this run; the config named here may not.
            saved = trainer.out / "config.yaml"
            again = f"holefill train {saved if saved.is_file() else config} --out {trainer.out} --resume"
            echo_err(f"stopped at step {stop.step} of {stop.total}: checkpoint written to {stop.checkpoint};"
                     f" continue with: {again}")
        raise typer.Exit(stop.exit_code) from None
    finally:
        trainer.close()
    if trainer.is_main and not quiet:
        ran = trainer.step - first
        span = f"{ran} steps" + (f" (steps {first + 1}-{trainer.step}, resumed at step {first})" if first else "")
        echo_err(f"trained {cfg.model.name} with recipe {cfg.recipe.name} for {span} in"
                 f" {time.perf_counter() - start:.0f} s -> {final} (use --method {cfg.model.name} --weights {final})")


def _names(text: str | None) -> list[str]:
    return [m.strip() for m in text.split(",") if m.strip()] if text else []


def _bench_blind(images: Path, methods: str | None, references: str | None, kinds: str | None, finder: str | None,
                 seed: int, limit: int | None, weights: list[str] | None, device: str | None, output: Path | None,
                 overwrite: bool, quiet: bool) -> None:
    """``bench --blind``: every image damaged once per kind (holefill-blind-v2), then scored."""
    from holefill import benchmark as B
    from holefill.benchmark_blind import BLIND_FILES, run_blind_benchmark
    from holefill.masks.corruption import CORRUPTION_KINDS, describe_blind_protocol
    from holefill.methods import get_blind_filler, get_filler, get_method, list_methods

    out_dir = output or Path(time.strftime("bench-blind-%Y%m%d-%H%M%S"))
    clashes = [n for n in BLIND_FILES if (out_dir / n).exists()]
    if clashes and not overwrite:
        raise InvalidArgumentError(f"already holds a report ({', '.join(clashes)}); pass --overwrite to replace it",
                                   out_dir)
    if seed < 0:
        raise InvalidArgumentError(f"--seed must be >= 0, got {seed}")
    chosen_kinds = _names(kinds) or list(CORRUPTION_KINDS)
    bad = [k for k in chosen_kinds if k not in CORRUPTION_KINDS]
    if bad:
        raise InvalidArgumentError(f"--kinds: unknown damage kind {bad[0]!r}; kinds: {', '.join(CORRUPTION_KINDS)}")
    blind_names = _names(methods) or [m.name for m in list_methods(task="blind") if m.ready]
    if not blind_names:
        raise InvalidArgumentError("no blind method is ready: name one with --methods and give its --weights")
    ref_names = _names(references) or [m.name for m in list_methods("classical") if m.ready]
    for name in blind_names + ref_names:
        get_method(name)  # an unknown name fails before any work
    named_weights = parse_weights(weights)
    stray = sorted(set(named_weights) - set(blind_names) - set(ref_names) - {finder})
    if stray:
        raise InvalidArgumentError(f"--weights for {', '.join(stray)}, which is not in --methods, --references or --finder")
    blind = {}
    for name in blind_names:
        filler = get_blind_filler(name, weights=named_weights.get(name), device=device,
                                  finder=None if "blind" in get_method(name).tasks else finder,
                                  finder_weights=named_weights.get(finder) if finder else None)
        blind[filler.name] = filler
    refs = {n: get_filler(n, weights=named_weights.get(n), device=device) for n in ref_names}
    imgs = B.load_images(images, limit)
    items, photos = B.named_blind_items(imgs, kinds=chosen_kinds, seed=seed)
    grouped = (f"{len(set(photos))} photos by name" if photos else "each image its own photo")
    notes = (f"Images: {len(imgs)} from {images} ({grouped}). "
             f"Damage: {describe_blind_protocol(len(imgs), seed, chosen_kinds)}.")
    report = run_blind_benchmark(blind, imgs, items, references=refs, notes=notes, progress=not quiet)
    paths = report.write(out_dir, overwrite=overwrite)
    echo_err(f"report: {paths['report']}, {paths['summary']}, {paths['results']}")
    typer.echo(report.table())
