"""The progress hook: slow methods tell a listener how far they have come."""

from __future__ import annotations

import pytest

import holefill


def test_slow_methods_report_progress_to_a_listener(photo, box_mask):
    from holefill.fillers import progress_to

    seen: list[float] = []
    with progress_to(seen.append):
        holefill.inpaint(photo, box_mask, "criminisi")
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] == 1.0 and 0 < seen[0] < 1
    seen.clear()
    holefill.inpaint(photo, box_mask, "criminisi")  # nobody listens outside the block
    assert seen == []

    class Stop(Exception):
        pass

    def stop(fraction: float) -> None:
        raise Stop

    with pytest.raises(Stop), progress_to(stop):  # a listener can stop a fill
        holefill.inpaint(photo, box_mask, "criminisi")
