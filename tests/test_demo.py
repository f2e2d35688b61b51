"""The demo (scripts/demo.sh): its photo is bundled with a licence, no shipped model trained on
it, and its command works as the README says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from holefill import io
from holefill.cli import app

ROOT = Path(__file__).resolve().parents[1]


def demo_command() -> list[str]:
    """The arguments of the ``holefill inpaint`` line of scripts/demo.sh."""
    text = (ROOT / "scripts" / "demo.sh").read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if "holefill inpaint" in line)
    args = shlex.split(line.split("holefill", 1)[1].replace('"$@"', ""))
    return args


def test_demo_photo_is_licensed_and_no_shipped_model_trained_on_it():
    args = demo_command()
    photo, mask = ROOT / args[1], ROOT / args[args.index("--mask") + 1]
    assert photo.is_file() and mask.is_file()
    licences = (ROOT / "examples" / "LICENSES.md").read_text()
    row = next(line for line in licences.splitlines() if line.startswith(f"| `{photo.name}`"))
    source = re.search(r"/usr/share/backgrounds/(\S+?)`", row).group(1)
    cards = list((ROOT / "src" / "holefill" / "weights").glob("*/MODEL_CARD.md"))
    assert cards
    for card in cards:
        text = card.read_text()
        assert "Training photos" in text and "Test photos" in text, card
        seen = text.split("Training photos", 1)[1].split("Test photos", 1)[0]  # training and validation photos
        assert Path(source).name not in seen, f"{card.parent.name} trained on the demo photo {source}"
    assert f"examples/{photo.name}" in (ROOT / "README.md").read_text()


def test_demo_command_fills_the_photo(tmp_path):
    args = demo_command()
    args = [str(ROOT / a) if a.startswith("examples/") else a for a in args]
    args = [str(tmp_path / Path(a).name) if a.startswith("out/") else a for a in args]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    image, mask = io.read_image(args[1]), io.read_mask(args[args.index("--mask") + 1])
    filled = io.read_image(args[args.index("-o") + 1])
    assert np.array_equal(filled[~mask], image[~mask]) and not np.array_equal(filled[mask], image[mask])
    assert (tmp_path / Path(args[args.index("--compare") + 1]).name).exists()
