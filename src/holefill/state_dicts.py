"""What is wrong between a model's own tensors and a state dict read from a file: one list of
short phrases (missing, unexpected and misshapen keys, a few of each named), shared by every
strict loader so that they all say it the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any


def _few(keys: list[str], n: int) -> str:
    return ", ".join(keys[:n]) + (", ..." if len(keys) > n else "")


def state_dict_problems(own: Mapping[str, Any], state: Mapping[str, Any], *, optional: Iterable[str] = (),
                        order: Callable[[str], Any] | None = None, owner: str | None = None,
                        examples: int = 3) -> list[str]:
    """Phrases such as ``"2 missing (e.g. a.weight, a.bias)"`` for the keys of ``own`` (the
    model's tensors) absent from ``state`` (except ``optional`` ones), the keys of ``state``
    the model lacks, and the shared keys whose shapes differ (``"k: the file has (8,), the
    model needs (16,)"``, ``owner`` naming the model). Empty when they fit."""
    key = order or (lambda k: k)
    missing = sorted(set(own) - set(state) - set(optional), key=key)
    unexpected = sorted(set(state) - set(own), key=key)
    misshapen = sorted((k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape)), key=key)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {_few(missing, examples)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {_few(unexpected, examples)})")
    if misshapen:
        k = misshapen[0]
        problems.append(f"{len(misshapen)} of the wrong shape (e.g. {k}: the file has {tuple(state[k].shape)}, "
                        f"{owner or 'the model'} needs {tuple(own[k].shape)})")
    return problems
