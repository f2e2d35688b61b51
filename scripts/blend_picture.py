"""Draw the README's blending picture: panoramas of photos no model trained on, one row per method.

    python scripts/blend_picture.py corpus/photos/test -o docs/blend.png \\
        --methods ns,patchmatch,bct_blend,bct_blend:seam=none --weights bct_blend=runs/blend/final \\
        --pair lomiri-friends,mate-aqua

A row ``NAME:KEY=VALUE;KEY=VALUE`` passes method options (as ``-O``) and is labelled so.

Column 1 is a self-reconstruction window of the blend protocol (the first window of the first
photo of ``--pair``; the truth is drawn above the rows), column 2 joins the two photos of
``--pair`` (256x256 centre crops, a 256-wide gap). Each row is one method; the gap is outlined.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from holefill import io
from holefill.benchmark import load_images
from holefill.errors import HolefillError
from holefill.masks.blend_protocol import blend_items
from holefill.methods import get_blender


def centre(photo: np.ndarray, side: int = 256) -> np.ndarray:
    h, w = photo.shape[:2]
    scale = side / min(h, w)
    small = cv2.resize(photo, (max(side, round(w * scale)), max(side, round(h * scale))), interpolation=cv2.INTER_AREA)
    top, left = (small.shape[0] - side) // 2, (small.shape[1] - side) // 2
    return np.ascontiguousarray(small[top:top + side, left:left + side])


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def outline(panorama: np.ndarray, left: int, gap: int) -> np.ndarray:
    out = panorama.copy()
    out[:, [left, left + gap - 1]] = (255, 255, 0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--methods", required=True)
    parser.add_argument("--pair", required=True, help="two photo stems, comma-separated")
    parser.add_argument("--weights", action="append", default=[], metavar="NAME=DIR",
                        help="weights of a learned method (repeatable)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    try:
        from holefill.cli.common import method_rows, parse_weights

        weights = parse_weights(args.weights)
        photos = dict(load_images(args.photos))
        a, b = (s.strip() for s in args.pair.split(","))
        window = blend_items([(a, photos[a])], windows=1)[0]
        left, right = centre(photos[a]), centre(photos[b])
        rows = [np.concatenate([label(np.concatenate([window.left, window.truth, window.right], 1), "truth"),
                                np.full((256, 768, 3), 255, np.uint8)], 1)]
        for row, (name, options, row_weights) in method_rows(args.methods, "blend").items():
            blender = get_blender(name, weights=row_weights or weights.get(name), **options)
            recon = outline(blender.blend(window.left, window.right, 256), 256, 256)
            joined = outline(blender.blend(left, right, 256), 256, 256)
            rows.append(np.concatenate([label(recon, row), joined], 1))
        sep = np.full((6, rows[0].shape[1], 3), 255, np.uint8)
        picture = np.concatenate([x for r in rows for x in (r, sep)][:-1], 0)
        io.write_image(args.output, picture, overwrite=args.overwrite)
    except (HolefillError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.output}: {picture.shape[1]}x{picture.shape[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
