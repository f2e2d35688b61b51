"""Method options with documented valid ranges, checked in one place.

Every filler declares its keyword options as a tuple of :class:`Option` (``Filler.options``);
the method table hands them on (``MethodInfo.options``), and :func:`check_options` is the
one check that the API, the CLI (``-O key=value``), batch mode and the web server all pass
through before any work starts. A value outside its range is one
:class:`~holefill.errors.InvalidArgumentError` line that names the option and its range; an
unknown option is one line that lists the method's options with theirs.

The ranges bound the cost of one fill: ``radius=100`` on telea is about 1000x the work of the
default, and ``1e308`` is no radius at all. They are wide enough for every sensible use.
"""

from __future__ import annotations

import math
import os
import re
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from holefill.errors import InvalidArgumentError

#: The kinds of option value.
KINDS = ("int", "float", "bool", "choice", "name", "path")
#: The longest ``path`` option accepted.
MAX_PATH = 4096
#: What a ``name`` option takes: a method's name (the table checks that it exists).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _plain(value: float) -> str:
    """``3`` for 3.0, ``0.5`` for 0.5: numbers as a person writes them."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Option:
    """One keyword option of a method: its kind, default, valid range and one line of help.

    ``kind`` is ``int``, ``float``, ``bool``, ``choice``, ``name`` (a method's name, which the
    method table resolves) or ``path`` (a file or folder on this machine: the CLI and the API
    take one, the web server never serves a method that needs one). Numbers lie in
    [``minimum``, ``maximum``] (both inclusive, both required: nothing is unbounded);
    ``odd`` asks for an odd whole number; ``nullable`` lets ``None`` (or the text "none")
    stand for "no limit", where the method has such a setting.
    """

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    odd: bool = False
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind in ("int", "float") and (self.minimum is None or self.maximum is None):
            raise ValueError(f"option {self.name!r}: a number needs a minimum and a maximum")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"option {self.name!r}: a choice needs its choices")
        if self.default is not None or not self.nullable:
            self.check(self.default)

    # --- what a person reads ----------------------------------------------------------

    @property
    def range_text(self) -> str:
        """The valid values in words, e.g. ``1 to 16``, ``fast or best``, ``true or false``."""
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "name":
            text = "a method's name"
        elif self.kind == "path":
            text = "a file or folder"
        elif self.kind == "choice":
            text = ", ".join(self.choices[:-1]) + " or " + self.choices[-1] if len(self.choices) > 1 else self.choices[0]
        else:
            assert self.minimum is not None and self.maximum is not None
            text = f"{_plain(self.minimum)} to {_plain(self.maximum)}"
            if self.kind == "int":
                text = ("odd whole number " if self.odd else "whole number ") + text
        if self.nullable:
            text += ", or none"
        return text

    @property
    def default_text(self) -> str:
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, float):
            return _plain(self.default)
        return str(self.default)

    def describe(self) -> str:
        """One line: ``radius: 1 to 16 (default 3): pixels around each hole pixel ...``."""
        return f"{self.name}: {self.range_text} (default {self.default_text}): {self.help}"

    def as_dict(self) -> dict[str, Any]:
        """The option as plain JSON data (the web page builds its option inputs from it)."""
        return {"name": self.name, "kind": self.kind, "default": self.default, "help": self.help,
                "minimum": self.minimum, "maximum": self.maximum, "choices": list(self.choices),
                "odd": self.odd, "nullable": self.nullable, "range": self.range_text}

    # --- the check --------------------------------------------------------------------

    def _refuse(self, value: Any) -> InvalidArgumentError:
        return InvalidArgumentError(f"option {self.name} must be {self.range_text}, got {value!r}")

    def check(self, value: Any) -> Any:
        """``value`` in the option's own type, or an :class:`InvalidArgumentError` line.

        Accepts what the CLI's ``-O key=value`` parsing and JSON give: numbers as numbers,
        a whole float for an int (5.0), 0/1 or true/false for a bool, any case for a choice.
        """
        if isinstance(value, str) and value.strip().lower() == "none" and self.nullable:
            value = None
        if value is None:
            if self.nullable:
                return None
            raise self._refuse(value)
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise self._refuse(value)
        if self.kind == "path":
            text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
            if not isinstance(text, str) or not 0 < len(text) <= MAX_PATH or "\0" in text:
                raise self._refuse(value)
            return text
        if self.kind == "name":
            if not isinstance(value, str) or not _NAME.fullmatch(value.strip()):
                raise self._refuse(value)
            return value.strip()
        if self.kind == "choice":
            if not isinstance(value, str) or value.strip().lower() not in self.choices:
                raise self._refuse(value)
            return value.strip().lower()
        number = _number(value)
        if number is None:
            raise self._refuse(value)
        if self.kind == "int":
            if not float(number).is_integer():
                raise self._refuse(value)
            number = int(number)
            if self.odd and number % 2 == 0:
                raise self._refuse(value)
        else:
            number = float(number)
        assert self.minimum is not None and self.maximum is not None
        if not self.minimum <= number <= self.maximum:
            raise self._refuse(value)
        return number


def _number(value: Any) -> int | float | None:
    """A finite int or float from ``value`` (numpy scalars too), or None. Bools are not numbers."""
    if isinstance(value, (bool, str)) or type(value).__name__ == "bool_":
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def describe_options(options: Sequence[Option]) -> str:
    """The options in one line, for an error message: ``radius (1 to 16, default 3)``."""
    if not options:
        return "none"
    return "; ".join(f"{o.name} ({o.range_text}, default {o.default_text})" for o in options)


def check_options(options: Sequence[Option], given: Mapping[str, Any], *, method: str) -> dict[str, Any]:
    """``given`` checked against ``options``: every name known, every value in range.

    Returns the values in their options' types. Raises one :class:`InvalidArgumentError`
    line naming the method and listing its options (with ranges) for an unknown name.
    """
    by_name = {o.name: o for o in options}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise InvalidArgumentError(
            f"method {method!r} has no option {', '.join(unknown)}; its options: {describe_options(options)}")
    return {name: by_name[name].check(value) for name, value in given.items()}


def checked(options: Sequence[Option], **values: Any) -> dict[str, Any]:
    """For a filler's constructor: its arguments checked against its own ``options``."""
    by_name = {o.name: o for o in options}
    return {name: by_name[name].check(value) for name, value in values.items()}
