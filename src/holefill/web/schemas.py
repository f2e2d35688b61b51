"""Request and response bodies of the REST API (pydantic models; they also make /docs).

The fill endpoints take either ``multipart/form-data`` (files plus text fields) or JSON
with the images as base64 strings. Both go through the same parameter models, so the
checks and the error messages are the same.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

#: Option values a client may pass to a method's constructor: plain JSON scalars.
OptionValue = Union[StrictBool, StrictInt, StrictFloat, Annotated[str, Field(max_length=200)]]
#: Keyword arguments a client never sets: the server decides where weights come from and
#: where models run, so no client-supplied path reaches the filesystem.
RESERVED_OPTIONS = frozenset({"weights", "device", "name", "path", "checkpoint", "db", "exclude"})
_OPTION_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPTIONS = 16
#: The largest side (or gap) a request may ask for; the pixel limit usually bites first.
MAX_SIDE = 100_000


class FillParams(BaseModel):
    """What every fill request has: the method and its options."""

    model_config = ConfigDict(extra="forbid")

    method: Optional[str] = Field(None, max_length=64, description="A name from GET /api/methods; default: the default method.")
    options: dict[str, OptionValue] = Field(
        default_factory=dict,
        description='Method options, e.g. {"radius": 5}. In multipart requests, a JSON object in a text field.',
    )

    @field_validator("options", mode="before")
    @classmethod
    def _options_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("must be a JSON object such as {\"radius\": 5}") from None
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object such as {\"radius\": 5}")
        return value

    @field_validator("options")
    @classmethod
    def _check_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_OPTIONS:
            raise ValueError(f"at most {MAX_OPTIONS} options")
        for key in value:
            if not _OPTION_KEY.match(key):
                raise ValueError(f"{key!r} is not an option name")
            if key in RESERVED_OPTIONS:
                raise ValueError(f"{key!r} is set by the server, not by a request")
        return value


class InpaintParams(FillParams):
    resize_mask: bool = Field(False, description="Resize a mask of another size to the image (nearest).")


class InpaintJSON(InpaintParams):
    """POST /api/inpaint as JSON."""

    image: str = Field(..., description="The image file's bytes in base64 (a data: URL also works).")
    mask: Optional[str] = Field(
        None, description="The mask file in base64: white = hole. Without it, the image's transparent pixels are the hole."
    )
    guide: Optional[str] = Field(
        None, description="Another photo in base64 to pull the hole's content from (guided inpainting: the method is"
                          " then a guided one, by default the default guided method)."
    )


class OutpaintParams(FillParams):
    left: int = Field(0, ge=0, le=MAX_SIDE, description="Pixels to add on the left.")
    right: int = Field(0, ge=0, le=MAX_SIDE, description="Pixels to add on the right.")
    top: int = Field(0, ge=0, le=MAX_SIDE, description="Pixels to add on top.")
    bottom: int = Field(0, ge=0, le=MAX_SIDE, description="Pixels to add at the bottom.")


class OutpaintJSON(OutpaintParams):
    """POST /api/outpaint as JSON."""

    image: str = Field(..., description="The image file's bytes in base64.")


class BlendParams(FillParams):
    gap: int = Field(128, ge=1, le=MAX_SIDE, description="Columns of generated content between the photos.")


class BlendJSON(BlendParams):
    """POST /api/blend as JSON."""

    left: str = Field(..., description="The left photo's file bytes in base64.")
    right: str = Field(..., description="The right photo's file bytes in base64 (resized to the left one's height).")


class OptionOut(BaseModel):
    name: str
    kind: str = Field(..., description="int, float, bool or choice")
    default: Any = None
    help: str
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    choices: list[str] = Field(default_factory=list)
    odd: bool = False
    nullable: bool = Field(False, description="Whether null (no limit) is a valid value.")
    range: str = Field(..., description="The valid values in words.")


class BlindParams(FillParams):
    """Blind inpainting: the method finds the damage (no mask is sent)."""

    method: Optional[str] = Field(None, max_length=64, description="A blind method (default: the shipped VCNet), or "
                                  "any inpainting method, which fills what `finder` found.")
    finder: Optional[str] = Field(None, max_length=64, description="With an inpainting method: the blind method "
                                  "that finds the damage (default: the shipped VCNet).")
    threshold: Optional[float] = Field(None, ge=0.0, lt=1.0, description="Damage probability above which a pixel "
                                       "is damage (default 0.5).")
    dilate: Optional[int] = Field(None, ge=0, le=64, description="Grow the damage found by this many pixels.")


class BlindJSON(BlindParams):
    """POST /api/inpaint-blind as JSON."""

    image: str = Field(..., description="The damaged image's file bytes in base64.")


class FindDamageParams(BlindParams):
    probability: bool = Field(False, description="Answer the damage probability (8-bit grey, 255 = surely damage) "
                              "instead of the thresholded mask (white = damage).")


class FindDamageJSON(FindDamageParams):
    """POST /api/find-damage as JSON."""

    image: str = Field(..., description="The image's file bytes in base64.")


class MethodOut(BaseModel):
    name: str
    kind: str = Field(..., description="classical or learned")
    ready: bool = Field(..., description="Whether the server can run it (a learned method needs weights).")
    summary: str
    paper: str = ""
    default: bool = Field(False, description="Whether it is the inpainting default.")
    tasks: list[str] = Field(default_factory=list, description="The tasks it serves: inpaint, outpaint, blend, upscale, generate, blind, guided.")
    default_for: list[str] = Field(default_factory=list, description="The tasks whose default it is.")
    options: list[OptionOut] = Field(default_factory=list, description="The method's options and their valid ranges.")
    default_blind: bool = Field(False, description="The blind method used when none is named.")
    default_guided: bool = Field(False, description="The guided method used when a guide photo comes without one.")


class HealthOut(BaseModel):
    status: str
    version: str
    methods: int
    max_upload_bytes: int
    max_pixels: int
    workers: int
    study: bool
    time_limit: Optional[float] = Field(None, description="Seconds a fill may run (null: no limit).")


class JobOut(BaseModel):
    state: str = Field(..., description="queued, running (or done, failed, cancelled, briefly)")
    progress: Optional[float] = Field(None, description="0 to 1 for methods that report progress, else null.")
    seconds: float = Field(..., description="Seconds the job has been running.")
    waited: float = Field(..., description="Seconds it waited in the queue.")


class CancelOut(BaseModel):
    cancelled: bool


class StudySessionOut(BaseModel):
    token: str = Field(..., description="This browser session's participant token (send it as participant).")


class ErrorOut(BaseModel):
    error: str = Field(..., description="One line that says what was wrong.")
    type: str = Field(..., description="The kind of error, e.g. MaskSizeError.")


class StudyInfo(BaseModel):
    mode: str
    question: str
    trials: int = Field(..., description="How many trials each participant answers.")


class StudyTrialOut(BaseModel):
    done: bool
    trial: Optional[int] = None
    images: list[str] = Field(default_factory=list, description="URLs of the images to show, in slot order.")
    answered: int
    total: int


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant: str = Field(..., min_length=8, max_length=64, description="The token from POST /api/study/session.")
    trial: int = Field(..., ge=0)
    choice: str = Field(..., max_length=8, description="pair: the slot picked as real, '0' or '1'; single: 'real' or 'fake'.")
    response_ms: Optional[int] = Field(None, ge=0, le=86_400_000)


class VoteOut(BaseModel):
    recorded: bool = Field(..., description="False when this participant had already answered this trial.")
