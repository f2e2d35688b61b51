"""Reading and writing images and masks. Every check of bad input lives here.

Images come back as HxWx3 uint8 RGB and masks as HxW bool (True = hole), whatever the
file held: EXIF orientation is applied; grayscale, palette, CMYK and 16-bit images become
8-bit RGB; an alpha channel is composited over white, or serves as the mask.

Writing is atomic (a temporary file beside the target, then a rename), gives the file the
permissions the user's umask allows (like any other program's output), and never replaces
an existing file unless ``overwrite=True``. A temporary file that a killed process left
behind is recognised by the process id in its name and removed by the next run
(:func:`remove_stale_temps`).
"""

from __future__ import annotations

import io as _io
import math
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from holefill.errors import (
    CorruptImageError,
    EmptyFileError,
    EmptyMaskWarning,
    FullMaskError,
    HolefillError,
    ImageTooLargeError,
    InputNotFoundError,
    InvalidArgumentError,
    MaskSizeError,
    NotAnImageError,
    OutputExistsError,
)

PathLike = Union[str, os.PathLike]

#: Formats holefill reads, as Pillow names them. The type is read from the content.
READ_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP", "BMP": "BMP", "TIFF": "TIFF"}
#: File extensions holefill writes, and the Pillow format for each.
WRITE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
IMAGE_SUFFIXES = frozenset(WRITE_FORMATS)

#: Default decompression-bomb guard: 100 megapixels. ``HOLEFILL_MAX_PIXELS`` changes it.
DEFAULT_MAX_PIXELS = 100_000_000


def max_pixels_default() -> int:
    """The pixel limit from ``HOLEFILL_MAX_PIXELS``, or :data:`DEFAULT_MAX_PIXELS`."""
    raw = os.environ.get("HOLEFILL_MAX_PIXELS")
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgumentError(f"HOLEFILL_MAX_PIXELS must be an integer, got {raw!r}") from None
    if value <= 0:
        raise InvalidArgumentError(f"HOLEFILL_MAX_PIXELS must be positive, got {value}")
    return value


Source = Union[PathLike, bytes, bytearray, memoryview]


def _open(source: Source, name: str | None, max_pixels: int | None) -> tuple[Image.Image, str]:
    """Open and fully decode ``source`` with every check; return the image and its label."""
    limit = max_pixels_default() if max_pixels is None else int(max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "<upload>"
        data = bytes(source)
        if not data:
            raise EmptyFileError("the file is empty (0 bytes)", label)
        stream: BinaryIO = _io.BytesIO(data)
    else:
        path = Path(source)
        label = name or str(path)
        stream = _io.BytesIO(_read_regular_file(path, label))
    with warnings.catch_warnings():
        # Pillow's own bomb guard warns or raises at its fixed limit; ours is below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(stream)
        except UnidentifiedImageError:
            raise NotAnImageError(
                "not an image holefill can read (PNG, JPEG, WebP, BMP or TIFF)", label
            ) from None
        except Image.DecompressionBombError:
            raise ImageTooLargeError(f"the image is larger than the limit of {limit:,} pixels", label) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptImageError(f"cannot be decoded ({exc})", label) from None
        if img.format not in READ_FORMATS:
            raise NotAnImageError(
                f"{img.format} images are not supported (PNG, JPEG, WebP, BMP or TIFF)", label
            )
        w, h = img.size
        if w * h > limit:
            raise ImageTooLargeError(
                f"{w}x{h} = {w * h:,} pixels is over the limit of {limit:,}"
                " (raise it with --max-pixels or HOLEFILL_MAX_PIXELS)",
                label,
            )
        if w == 0 or h == 0:
            raise CorruptImageError("the image has no pixels", label)
        try:
            img.load()
            img = ImageOps.exif_transpose(img)
        except Image.DecompressionBombError:
            raise ImageTooLargeError(f"the image is larger than the limit of {limit:,} pixels", label) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            reason = "truncated" if "truncated" in str(exc).lower() else f"corrupt ({exc})"
            raise CorruptImageError(f"the image data is {reason}", label) from None
    return img, label


def _file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _read_regular_file(path: Path, label: str) -> bytes:
    """The bytes of a regular file. A missing or unreadable file, a folder, a device, a pipe or a
    socket (also behind a symlink) is a one-line error that says what it is, before any read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputNotFoundError(f"is a symlink to {os.readlink(path)}, which does not exist", label) from None
        raise InputNotFoundError("no such file", label) from None
    except OSError as exc:
        raise HolefillError(f"cannot be read ({exc.strerror or exc})", label) from None
    if not stat.S_ISREG(info.st_mode):
        kind = _file_kind(info.st_mode)
        where = f"a symlink to {os.path.realpath(path)}, " if path.is_symlink() else ""
        raise NotAnImageError(f"is {where}{kind}, not an image file", label)
    if info.st_size == 0:
        raise EmptyFileError("the file is empty (0 bytes)", label)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise HolefillError(f"cannot be read ({exc.strerror or exc})", label) from None


def _channels(img: Image.Image) -> np.ndarray:
    """The image's channels as HxWxC: uint8 for 8-bit modes (no copy to float, so a large
    photo stays small in memory), float in [0, 255] for 16-bit and float modes."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float32)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        return (np.clip(arr, 0, top) * (255.0 / top))[..., None]
    if mode == "F":
        arr = np.asarray(img).astype(np.float32)
        top = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        return (np.clip(arr, 0, top) * (255.0 / top))[..., None]
    if mode == "1":
        return np.asarray(img.convert("L"))[..., None]
    if mode in ("L", "RGB", "RGBA", "LA"):
        arr = np.asarray(img)
        return arr[..., None] if arr.ndim == 2 else arr
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        return np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
    if mode == "CMYK":
        return np.asarray(img.convert("RGB"))
    # Anything else Pillow decodes (YCbCr, LAB, HSV, RGBX, ...) goes through RGB.
    try:
        return np.asarray(img.convert("RGBA" if "A" in mode else "RGB"))
    except (ValueError, OSError) as exc:  # pragma: no cover - exotic modes
        raise NotAnImageError(f"image mode {mode} is not supported ({exc})") from None


def _split_alpha(channels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split HxWxC float channels into HxWx3 colour and an optional HxW alpha in [0, 255]."""
    c = channels.shape[2]
    if c == 1:
        return np.repeat(channels, 3, axis=2), None
    if c == 2:
        return np.repeat(channels[..., :1], 3, axis=2), channels[..., 1]
    if c == 3:
        return channels, None
    return channels[..., :3], channels[..., 3]


def _to_uint8(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def read_image_with_alpha(
    source: Source, *, name: str | None = None, max_pixels: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image as (HxWx3 uint8 RGB composited over white, HxW bool hole-from-alpha).

    The second item is None when the image has no alpha channel. Where it has one, pixels
    whose alpha is below 50 % are holes (``--mask-from-alpha``).
    """
    img, _ = _open(source, name, max_pixels)
    rgb, alpha = _split_alpha(_channels(img))
    if alpha is None:
        return _to_uint8(rgb), None
    a = alpha[..., None].astype(np.float32) / 255.0
    composited = rgb.astype(np.float32) * a + 255.0 * (1.0 - a)
    return _to_uint8(composited), alpha < 127.5


def read_image(source: Source, *, name: str | None = None, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file (or its bytes) as HxWx3 uint8 RGB; alpha is composited over white."""
    return read_image_with_alpha(source, name=name, max_pixels=max_pixels)[0]


def read_mask(
    source: Source,
    *,
    shape: tuple[int, int] | None = None,
    resize: bool = False,
    name: str | None = None,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Read a mask as HxW bool, True = hole.

    Any mode works. White (or any bright colour: the brightest channel counts) is a hole,
    thresholded at 50 % so that JPEG noise does not matter; a 0/1 mask counts its 1s as
    holes; transparent pixels are never holes. With ``shape=(h, w)`` a mask of another size
    is an error, or is resized with nearest-neighbour sampling when ``resize`` is set.
    """
    img, label = _open(source, name, max_pixels)
    colour, alpha = _split_alpha(_channels(img))
    value = colour.max(axis=2).astype(np.float32)
    if alpha is not None:
        value = value * (alpha.astype(np.float32) / 255.0)
    if value.max(initial=0) <= 1.0 and img.mode not in ("F",):
        mask = value >= 0.5  # a 0/1 label image: non-zero = hole
    else:
        mask = value >= 127.5
    if shape is not None:
        mask = fit_mask(mask, shape, resize=resize, name=label)
    return mask


def fit_mask(mask: np.ndarray, shape: tuple[int, int], *, resize: bool = False, name: str | None = None) -> np.ndarray:
    """Return ``mask`` at ``shape`` (h, w): unchanged, nearest-resized, or a :class:`MaskSizeError`."""
    h, w = int(shape[0]), int(shape[1])
    if mask.shape == (h, w):
        return mask
    if not resize:
        raise MaskSizeError(
            f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is {w}x{h}"
            " (pass --resize-mask to resize it)",
            name,
        )
    rows = np.minimum((np.arange(h) + 0.5) * mask.shape[0] / h, mask.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(w) + 0.5) * mask.shape[1] / w, mask.shape[1] - 1).astype(int)
    return mask[rows[:, None], cols[None, :]]


def check_image(image: np.ndarray, name: str | None = None) -> np.ndarray:
    """Validate an in-memory image: HxWx3 uint8 (HxW and HxWx4 are converted). Returns it."""
    if not isinstance(image, np.ndarray):
        raise InvalidArgumentError(f"image must be a numpy array, got {type(image).__name__}", name)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InvalidArgumentError(f"image must be HxWx3 RGB, got shape {image.shape}", name)
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidArgumentError("image has no pixels", name)
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating):
            raise InvalidArgumentError(
                f"image must be uint8 in [0, 255], got {image.dtype} (multiply by 255 and cast)", name
            )
        if image.min() < 0 or image.max() > 255:
            raise InvalidArgumentError(f"image values must lie in [0, 255], got {image.dtype}", name)
        image = image.astype(np.uint8)
    if image.shape[2] == 4:
        a = image[..., 3:4].astype(np.float64) / 255.0
        image = _to_uint8(image[..., :3] * a + 255.0 * (1.0 - a))
    return np.ascontiguousarray(image)


def check_mask(
    mask: np.ndarray,
    shape: tuple[int, int],
    *,
    needs_context: bool = True,
    name: str | None = None,
) -> np.ndarray:
    """Validate a mask for an image of ``shape`` (h, w) and return it as HxW bool.

    An empty mask warns (:class:`EmptyMaskWarning`); a mask that is all hole is a
    :class:`FullMaskError` when the method needs known pixels as context.
    """
    if not isinstance(mask, np.ndarray):
        raise InvalidArgumentError(f"mask must be a numpy array, got {type(mask).__name__}", name)
    if mask.ndim == 3 and mask.shape[2] in (1, 3, 4):
        mask = mask[..., :3].max(axis=2)
    if mask.ndim != 2:
        raise InvalidArgumentError(f"mask must be HxW, got shape {mask.shape}", name)
    if mask.dtype != bool:
        mask = mask > (127 if mask.dtype == np.uint8 and mask.max(initial=0) > 1 else 0)
    if mask.shape != tuple(shape[:2]):
        raise MaskSizeError(
            f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is {shape[1]}x{shape[0]}"
            " (pass --resize-mask to resize it)",
            name,
        )
    if not mask.any():
        warnings.warn(
            f"{name + ': ' if name else ''}the mask has no hole, so the output is the input",
            EmptyMaskWarning,
            stacklevel=2,
        )
    elif needs_context and mask.all():
        raise FullMaskError("the mask covers the whole image; this method needs known pixels around the hole", name)
    return mask


def check_scale(scale: object, max_scale: float, name: str = "scale", method: str | None = None) -> float:
    """An enlargement factor: a finite number above 1 and at most ``max_scale`` (the limit of
    ``method``, named in the error when given)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise InvalidArgumentError(f"{name} must be a number, got {scale!r}")
    value = float(scale)
    if not math.isfinite(value) or value <= 1.0:
        raise InvalidArgumentError(f"{name} must be a number above 1 (an enlargement), got {scale!r}")
    if value > max_scale:
        raise InvalidArgumentError(f"{name} {value:g} is too large; {method or 'this method'} enlarges by at most"
                                   f" {max_scale:g}")
    return value


def upscaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The size of a ``height x width`` image enlarged by ``scale``: each side floored, as
    Meta-SR's code does (``int(scale * side)``), with a little slack for binary fractions."""
    return int(math.floor(scale * height + 1e-6)), int(math.floor(scale * width + 1e-6))


def check_output_pixels(height: int, width: int, max_pixels: int | None = None, what: str = "the output") -> None:
    """Refuse an output of more than ``max_pixels`` pixels (default: :func:`max_pixels_default`)."""
    limit = max_pixels_default() if max_pixels is None else int(max_pixels)
    if height * width > limit:
        raise ImageTooLargeError(f"{what} would be {width}x{height} = {height * width:,} pixels, more than the limit"
                                 f" of {limit:,} (raise it with --max-pixels or HOLEFILL_MAX_PIXELS)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_output_path(path: PathLike, *, overwrite: bool = False, inputs: Iterable[PathLike] = (),
                      probe: bool = True) -> Path:
    """Check that ``path`` can be written: a known extension, nothing replaced unasked, and (with
    ``probe``) a folder that takes new files (:func:`check_writable_folder`)."""
    out = Path(path)
    if out.suffix.lower() not in WRITE_FORMATS:
        raise InvalidArgumentError(
            f"cannot tell the format from the extension {out.suffix or '(none)'!r};"
            f" use one of {', '.join(sorted(WRITE_FORMATS))}",
            out,
        )
    if out.is_dir():
        raise OutputExistsError("is a folder; give a file name", out)
    for src in inputs:
        if _same_file(out, Path(src)) and not overwrite:
            raise OutputExistsError("is an input file; refusing to overwrite it without --overwrite", out)
    if out.exists() and not overwrite:
        raise OutputExistsError("already exists; pass --overwrite to replace it", out)
    if out.exists() and not out.is_file():
        raise OutputExistsError(f"is {_file_kind(out.stat().st_mode)}; give a file name", out)
    if probe:
        check_writable_folder(out)
    return out


def check_writable_folder(path: PathLike) -> None:
    """Check, before any work, that a file can be created at ``path``: its nearest existing
    folder takes a new file (a probe file is made and removed). Folders that do not exist
    yet will be made when the file is written."""
    out = Path(path)
    folder = out.absolute().parent
    while not folder.exists() and folder != folder.parent:
        if folder.is_symlink():
            break
        folder = folder.parent
    if not folder.is_dir():
        raise InvalidArgumentError(f"cannot be written: {folder} is not a folder", out)
    try:
        fd, probe = tempfile.mkstemp(prefix=".holefill-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise HolefillError(f"cannot be written: {folder} takes no new files ({exc.strerror or exc})", out) from None


def check_distinct_outputs(outputs: dict[str, PathLike | None]) -> None:
    """Refuse two outputs of one command that name the same file (e.g. ``-o`` and ``--compare``):
    the second write would replace the first. ``outputs`` maps an option name to its path."""
    seen: dict[str, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        key = os.path.normcase(os.path.abspath(os.fspath(path)))
        if key in seen:
            raise InvalidArgumentError(f"is given to both {seen[key]} and {option}; give each output its own file",
                                       path)
        seen[key] = option


def encode_image(image: np.ndarray, fmt: str = "PNG", *, quality: int = 95) -> bytes:
    """Encode an HxWx3 uint8 RGB (or HxW bool/uint8) array to bytes in ``fmt``."""
    arr = image
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8:
        raise InvalidArgumentError(f"can only write uint8 or bool arrays, got {arr.dtype}")
    img = Image.fromarray(arr)
    buf = _io.BytesIO()
    kwargs: dict = {}
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


#: Temporary files of :func:`write_bytes_atomic`: ``.<target name>.<pid>.<random>.tmp``.
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.(?P<rand>[A-Za-z0-9_]+)\.tmp$")


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``/proc``); elsewhere
    it is set and put back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def remove_stale_temps(folder: PathLike, target: str | None = None) -> list[Path]:
    """Remove the temporary files that killed writes left in ``folder`` (those of ``target``
    only, when given): files named like :func:`write_bytes_atomic`'s whose process is gone.
    Returns what was removed."""
    root = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m is None or (target is not None and m.group("target") != target):
            continue
        if _pid_alive(int(m.group("pid"))):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def write_bytes_atomic(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename; make parent folders.

    The file gets mode 0666 less the umask, as ``open()`` would give it. A failure (a folder
    that takes no files, a full disk) is a one-line :class:`HolefillError` naming the file.
    """
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise HolefillError(f"cannot be written ({exc.strerror or exc})", out) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise HolefillError(f"cannot be written ({exc.strerror or exc})", out) from None
        raise
    return out


def write_image(
    path: PathLike,
    image: np.ndarray,
    *,
    overwrite: bool = False,
    inputs: Iterable[PathLike] = (),
    quality: int = 95,
) -> Path:
    """Write an image (or a bool mask, as black/white) atomically; never replace a file unasked.
    (The write itself says in one line when the folder takes no files, so there is no probe.)"""
    out = check_output_path(path, overwrite=overwrite, inputs=inputs, probe=False)
    return write_bytes_atomic(out, encode_image(image, WRITE_FORMATS[out.suffix.lower()], quality=quality))


def write_mask(path: PathLike, mask: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write a HxW bool mask as an 8-bit PNG, white = hole."""
    return write_image(path, np.asarray(mask, dtype=bool), overwrite=overwrite)


def list_images(folder: PathLike) -> list[Path]:
    """The image files directly in ``folder`` (by extension), sorted by name."""
    root = Path(folder)
    if not root.exists():
        raise InputNotFoundError("no such folder", root)
    if not root.is_dir():
        raise InvalidArgumentError("is a file, expected a folder", root)
    try:
        entries = list(root.iterdir())
    except OSError as exc:
        raise HolefillError(f"cannot be read ({exc.strerror or exc})", root) from None
    return sorted(p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
