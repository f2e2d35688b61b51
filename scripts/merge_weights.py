"""Make one weights folder from the parts of several runs of the same architecture.

    python scripts/merge_weights.py runs/vc_rin/final --take mpn=runs/vc_mpn/final -o runs/vc_merged

builds ``BASE``'s model with its weights (not its other ``config.json`` entries) and replaces
every tensor whose name starts with ``PART.`` by the same tensor of ``FOLDER``, for each
``--take PART=FOLDER``. VCNet's mask prediction network (``mpn``) and robust inpainting
network (``rin``) train apart, as the official code's first phase does, and can run side by
side on two cores this way; the merged folder then starts the next phase
(``--set recipe.args.init_weights=...``). Do not ship a merged VCNet as it is: the RIN fuses
the MPN's ``mask_conv5_atrous`` features, and a RIN trained beside another MPN has learnt that
MPN's features. Measured on the val crops with the *true* masks (so the mask finder is out of
it), a cnum-32 RIN at 2250 steps repaired +7.43 dB with its own run's MPN and +3.65 dB merged
with a separately trained MPN. A short ``rin`` phase from the merged folder lets it relearn them.

The folders must hold the same architecture with the same arguments (a part of another width
does not fit); a part that matches no tensor, an existing output folder and unreadable weights
are one-line errors. Nothing is written unless every check passes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from holefill.errors import HolefillError, InvalidArgumentError, WeightsError
from holefill.models.base import load_state_strict, read_config
from holefill.models.registry import load_model


def parse_take(text: str) -> tuple[str, Path]:
    part, sep, folder = text.partition("=")
    if not sep or not part or not folder or not part.replace("_", "").replace(".", "").isalnum():
        raise InvalidArgumentError(f"--take wants PART=FOLDER (e.g. mpn=runs/mpn/final), got {text!r}")
    return part.strip("."), Path(folder)


def merge(base: Path, takes: list[tuple[str, Path]], out: Path) -> dict[str, int]:
    """Write the merged folder; returns how many tensors each part replaced."""
    if out.exists():
        raise InvalidArgumentError(f"{out} exists; name a new folder (nothing is overwritten)")
    model = load_model(base)
    base_config = read_config(base)
    arch, args = base_config.get("architecture"), base_config.get("config")
    state = model.state_dict()
    counts: dict[str, int] = {}
    for part, folder in takes:
        config = read_config(folder)
        if config.get("architecture") != arch or config.get("config") != args:
            raise WeightsError(f"holds {config.get('architecture')} {config.get('config')}, but {base} holds "
                               f"{arch} {args}: parts only move between the same architecture and arguments",
                               folder)
        other = load_model(folder).state_dict()
        names = [k for k in state if k.startswith(part + ".")]
        if not names:
            raise InvalidArgumentError(f"--take {part}: no tensor of {arch} starts with {part + '.'!r} "
                                       f"(its parts: {', '.join(sorted({k.split('.')[0] for k in state}))})")
        for name in names:
            state[name] = other[name]
        counts[part] = len(names)
    load_state_strict(model, state, source=str(base))
    model.save_pretrained(out)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="the weights folder everything else comes from")
    parser.add_argument("--take", action="append", default=[], metavar="PART=FOLDER",
                        help="replace the tensors under PART (e.g. mpn) by FOLDER's; repeatable")
    parser.add_argument("-o", "--out", type=Path, required=True, help="a new weights folder")
    args = parser.parse_args(argv)
    try:
        if not args.take:
            raise InvalidArgumentError("nothing to merge: give at least one --take PART=FOLDER")
        counts = merge(args.base, [parse_take(t) for t in args.take], args.out)
    except HolefillError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for part, n in counts.items():
        print(f"{part}: {n} tensors")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
