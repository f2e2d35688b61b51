"""What every converter of the authors' checkpoints shares: the result, its report, the licences.

A converter (``holefill.models.convert_tf``, ``holefill.models.convert_torch7``, and the
PyTorch ones in :mod:`holefill.models.convert`) returns a :class:`Converted`: the model with
the official weights loaded strictly, the files it read (with their SHA-256, recorded in the
weights folder's ``config.json``), and a report saying which of the file's tensors were used
and which were left out and why (optimiser state, the discriminator, step counters). Nothing
in a file is silently dropped: a tensor that is neither used nor in a known "not needed"
group is an error.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from holefill.models.base import InpaintModel

__all__ = ["LICENCES", "Converted", "Licence", "Report", "file_sha256", "licence_text"]


@dataclass(frozen=True)
class Licence:
    """Under what terms the authors released a model's weights."""

    name: str
    url: str
    source: str
    commercial: bool
    #: What else a user should know (e.g. the terms of the photos the weights were trained on).
    note: str = ""

    def summary(self) -> str:
        use = "commercial use allowed" if self.commercial else "NON-COMMERCIAL use only"
        return f"{self.name} ({use}); see {self.url}"


#: The licence each official release states (in its repository's LICENSE file or README).
LICENCES: dict[str, Licence] = {
    "deepfill_v1": Licence("CC BY-NC 4.0", "https://creativecommons.org/licenses/by-nc/4.0/",
                           "github.com/JiahuiYu/generative_inpainting (LICENSE, tag v1.0.0)", False),
    "deepfill_v2": Licence("CC BY-NC 4.0", "https://creativecommons.org/licenses/by-nc/4.0/",
                           "github.com/JiahuiYu/generative_inpainting (LICENSE, branch v2.0.0)", False),
    "glcic": Licence("CC BY-NC-SA 4.0", "https://creativecommons.org/licenses/by-nc-sa/4.0/",
                     "github.com/satoshiiizuka/siggraph2017_inpainting (README and inpaint.lua)", False),
    "context_encoder": Licence("UC Berkeley copyright notice: educational, research and not-for-profit use",
                               "https://github.com/pathak22/context-encoder/blob/master/LICENSE.md",
                               "github.com/pathak22/context-encoder (LICENSE.md)", False),
    "edgeconnect": Licence("CC BY-NC 4.0", "https://creativecommons.org/licenses/by-nc/4.0/",
                           "github.com/knazeri/edge-connect (LICENSE.md)", False),
    "pennet": Licence("MIT", "https://opensource.org/license/mit",
                      "github.com/researchmm/PEN-Net-for-Inpainting (LICENSE)", True),
    "vcnet": Licence("MIT", "https://opensource.org/license/mit",
                     "github.com/shepnerd/blindinpainting_vcnet (LICENSE; the README links the weights)", True,
                     note="The released models were trained on FFHQ (a collection NVIDIA releases under CC BY-NC-SA "
                          "4.0) and CelebA-HQ (from CelebA, for non-commercial research only): check those terms "
                          "too."),
    "bct_blend": Licence("none stated: no LICENSE file, so all rights are reserved by its authors",
                         "https://github.com/julia0607/Wide-Range-Image-Blending",
                         "github.com/julia0607/Wide-Range-Image-Blending (no LICENSE file; README)", False),
}

#: The file written beside the weights with the licence note.
LICENCE_FILE = "WEIGHTS_LICENCE.txt"


def licence_text(model: str, files: list[str]) -> str:
    """The note printed by ``holefill convert`` and kept in the weights folder."""
    lic = LICENCES.get(model)
    lines = [f"These weights were converted by holefill from the official {model} checkpoint:"]
    lines += [f"  {f}" for f in files]
    if lic is None:
        lines.append("Their licence is the one their authors released them under; check it before use.")
    else:
        lines.append(f"The authors release them under {lic.summary()}")
        lines.append(f"(stated in {lic.source}).")
        if lic.note:
            lines.append(lic.note)
    lines.append("holefill's own MIT licence does not cover these weights or what you make with them.")
    return "\n".join(lines) + "\n"


@dataclass
class Report:
    """Which tensors of an official file were used, and which were left out and why."""

    used: int = 0
    #: Why -> the names left out for that reason.
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, why: str, name: str) -> None:
        self.skipped.setdefault(why, []).append(name)

    def lines(self) -> list[str]:
        out = [f"used {self.used} tensors"]
        for why, names in self.skipped.items():
            example = ", ".join(names[:2]) + (", ..." if len(names) > 2 else "")
            out.append(f"left out {len(names)} ({why}): {example}")
        return out

    def as_json(self) -> dict[str, Any]:
        return {"used": self.used, "left_out": {why: len(names) for why, names in self.skipped.items()}}


@dataclass
class Converted:
    """A model holding official weights, the files they came from, and the conversion report."""

    model: InpaintModel
    files: list[Path]
    report: Report = field(default_factory=Report)
    #: Settings read from the file that the config now holds (e.g. GLCIC's mean pixel).
    carried: dict[str, Any] = field(default_factory=dict)


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
