"""Training and evaluation commands: bench (compare methods), eval (score one), train."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from holefill.cli.common import (
    DeviceOpt,
    MethodOpt,
    OptionOpt,
    OverwriteOpt,
    WeightsOpt,
    echo_err,
    handles_errors,
    make_filler,
    parse_weights,
)
from holefill.errors import InvalidArgumentError


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


def _run_bench(fillers: dict, images: Path, masks: Path | None, generate: bool, sets: str | list[str] | None,
               count: int | None, seed: int, limit: int | None, out_dir: Path | None, overwrite: bool, quiet: bool,
               title: str, base=None, guided: bool = False):
    """Shared by ``bench`` and ``eval``: load, pair, fill, score and (optionally) write the report.

    ``base`` (an Evaluator read from an earlier report in ``out_dir``) gets the new records
    after a check that this run pairs the same images and masks.
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
                                progress=not quiet, guided_seed=guided_seed)
    if out_dir is not None:
        paths = B.write_report(evaluator, out_dir, overwrite=overwrite)
        echo_err(f"report: {paths['report']}, {paths['summary']}, {paths['results']}, {paths['chart']}")
    return evaluator


@handles_errors
def bench(
    images: Path = typer.Option(..., "--images", help="Folder of ground-truth images (e.g. the corpus test crops)."),
    methods: Optional[str] = typer.Option(None, "--methods", help="Comma-separated methods; default: every ready method."),
    masks: Optional[Path] = typer.Option(None, "--masks", help="Folder of mask sets (one subfolder per set)."),
    generate: bool = typer.Option(False, "--generate", help="Use the standard protocol's mask sets, generated."),
    sets: Optional[str] = typer.Option(None, "--sets", help="Only these mask sets, comma-separated (e.g. 20-30,center)."),
    count: Optional[int] = typer.Option(None, "--count", help="Masks per generated set (default: one per image, at most 100)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated mask sets."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N images."),
    weights: Optional[list[str]] = typer.Option(None, "--weights", "-w", help="Weights for a learned method: name=DIR. Repeatable."),
    device: Optional[str] = DeviceOpt,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Report folder (default: bench-<date-time>)."),
    add_to: Optional[Path] = typer.Option(None, "--add-to", help="Add these methods to an earlier report folder "
                                          "(same images and masks); its results are kept and the report rewritten."),
    guided: bool = typer.Option(False, "--guided", help="The guided protocol: every image also gets a guide photo "
                                "(itself transformed, relit, amid another image); guided methods fill from it (each "
                                "also without its lighting match, as NAME-nolight), the others fill as usual."),
    db: Optional[Path] = typer.Option(None, "--db", help="The photo folder of scene completion (method scene)."),
    overwrite: bool = OverwriteOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Compare methods on fixed mask sets: PSNR, SSIM, hole L1 and s/img per method and set."""
    from holefill import benchmark as B
    from holefill.methods import get_filler, get_guided_filler, get_method, list_methods
    from holefill.metrics import Evaluator

    base = None
    if add_to is not None:
        if output is not None:
            raise InvalidArgumentError("give --add-to or --output, not both")
        if not (add_to / "results.csv").is_file():
            raise InvalidArgumentError("holds no results.csv of an earlier holefill bench", add_to)
        base = Evaluator.read_csv(add_to / "results.csv", title="holefill bench")
        out_dir, overwrite = add_to, True  # the rewritten report holds every earlier record
    else:
        out_dir = output or Path(time.strftime("bench-%Y%m%d-%H%M%S"))
        B.check_report_dir(out_dir, overwrite=overwrite)
    if (masks is None) == (not generate):
        raise InvalidArgumentError("give either --masks DIR or --generate")
    named_weights = parse_weights(weights)
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else \
        [m.name for m in list_methods() if m.ready and not m.requires and (guided or m.task == "inpaint")
         and not (base and m.name in base.methods)]
    if not names:
        raise InvalidArgumentError("--methods names no method" if methods or base is None
                                   else "every ready method is in the report already")
    stray = sorted(set(named_weights) - set(names))
    if stray:
        raise InvalidArgumentError(f"--weights for {', '.join(stray)}, which is not in --methods")
    if base is not None:
        again = [n for n in names if n in base.methods]
        if again:
            raise InvalidArgumentError(f"already has results for {', '.join(again)}; leave them out of --methods, "
                                       "or write a new report with -o", add_to)
    if db is not None and "scene" not in names:
        raise InvalidArgumentError("--db is the photo folder of scene completion: add scene to --methods")
    fillers: dict = {}
    for n in names:
        if get_method(n).task == "guided":
            if not guided:
                raise InvalidArgumentError(f"method {n!r} fills from a guide photo: add --guided (the guided protocol)")
            fillers[n] = get_guided_filler(n, weights=named_weights.get(n), device=device)
            ablation = get_guided_filler(n, weights=named_weights.get(n), device=device, colour_match=False)
            fillers[f"{n}-nolight"] = ablation
        else:
            extra = {"db": db, "progress": not quiet} if n == "scene" else {}
            fillers[n] = get_filler(n, weights=named_weights.get(n), device=device, **extra)
    evaluator = _run_bench(fillers, images, masks, generate, sets, count, seed, limit, out_dir, overwrite, quiet,
                           "holefill bench", base=base, guided=guided)
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
    option: Optional[list[str]] = OptionOpt,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the report files (CSV, Markdown, chart) here."),
    overwrite: bool = OverwriteOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Score one method (e.g. a trained model: --method M --weights DIR) on the benchmark protocol."""
    filler = make_filler(method, weights, device, option)
    evaluator = _run_bench({filler.name: filler}, images, masks, generate, sets, count, seed, limit, output,
                           overwrite, quiet, f"holefill eval: {filler.name}")
    typer.echo(evaluator.to_markdown())


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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a model as CONFIG says; the EMA generator ends up in RUN/final (use it with --weights).

    Under torchrun every process runs this command; the global batch is data.batch_size times the number of processes.
    """
    from holefill.train.config import load_config
    from holefill.train.recipes import recipe_config
    from holefill.train.trainer import train as run_training

    cfg = load_config(_config_path(config), set_ or [])
    recipe_config(cfg)  # the recipe's own arguments, checked before any work starts
    start = time.perf_counter()
    final = run_training(cfg, out, resume=resume, overwrite=overwrite, progress=not quiet)
    echo_err(f"trained {cfg.model.name} with recipe {cfg.recipe.name} for {cfg.train.steps} steps"
             f" in {time.perf_counter() - start:.0f} s -> {final} (use --method {cfg.model.name} --weights {final})")

