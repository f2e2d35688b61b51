"""The README's blind-inpainting picture: damaged | damage found | repaired | clean, one row per item.

    python scripts/blind_picture.py corpus/crops/test docs/blind.png --method vcnet_lite \
        --items photo:3,graffiti:11,text:20,scratch:27

Items are (kind, image index) of the blind protocol (holefill-blind-v2, seed 0) on the sorted
images of the folder, so the picture shows benchmark items exactly as they are scored. The
found mask is drawn as a magenta tint over the damaged image.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from holefill import io
from holefill.benchmark import load_images, named_blind_items
from holefill.errors import HolefillError
from holefill.methods import get_blind_filler
from holefill.viz import overlay_mask, side_by_side


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--method", default=None, help="a blind method (default: the default blind method)")
    parser.add_argument("--items", required=True, help="kind:index pairs, comma-separated")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    try:
        images = load_images(args.images)
        filler = get_blind_filler(args.method)
        wanted = [(k, int(i)) for k, _, i in (p.partition(":") for p in args.items.split(","))]
        rows = []
        for kind, index in wanted:
            item = named_blind_items(images, kinds=[kind])[0][index]
            repaired, found = filler.fill_blind(item.corrupted)
            rows.append(side_by_side(item.corrupted, overlay_mask(item.corrupted, found), repaired,
                                     images[index][1], gap=6))
        width = max(r.shape[1] for r in rows)
        gap = np.full((6, width, 3), 255, np.uint8)
        picture = np.concatenate([x for r in rows for x in (r, gap)][:-1], axis=0)
        io.write_image(args.output, picture, overwrite=args.overwrite)
    except HolefillError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.output}: {picture.shape[1]}x{picture.shape[0]} ({filler.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
