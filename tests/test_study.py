"""Realism studies: creating one, per-participant randomisation, votes, and the report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from holefill.errors import ConfigError, InputNotFoundError, InvalidArgumentError, OutputExistsError
from holefill.web.study import (
    DB_NAME,
    MANIFEST_NAME,
    Study,
    create_study,
    format_report,
    parse_fake,
    VoteCaps,
    exact_interval,
    report,
    verdict,
    write_report_csv,
)

N_IMAGES = 6


def _write(folder: Path, name: str, arr: np.ndarray, fmt: str = "PNG") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(folder / name, format=fmt)


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    """real/ (photos 0..5), telea/ and ns/ (one result per photo, same stems), other/ (unmatched names)."""
    rng = np.random.default_rng(3)
    out = {k: tmp_path / k for k in ("real", "telea", "ns", "other")}
    for i in range(N_IMAGES):
        _write(out["real"], f"photo{i}.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
        _write(out["telea"], f"photo{i}.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
        _write(out["ns"], f"photo{i}.jpg", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), "JPEG")
        _write(out["other"], f"gen_{i}.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    return out


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def make_pair(tmp_path: Path, dirs: dict[str, Path], **kw) -> Study:
    return create_study(tmp_path / "study", dirs["real"], [("telea", dirs["telea"]), ("ns", dirs["ns"])],
                        mode="pair", seed=kw.pop("seed", 11), **kw)


def choice_for(study: Study, participant: str, trial: int, fooled: bool) -> str:
    """Pair mode: the slot to pick so that the vote does (or does not) fall for the fake."""
    real = study.real_slot(participant, trial)
    return str(1 - real if fooled else real)


# --- creating ----------------------------------------------------------------------------------


def test_create_pair_study_copies_images_under_made_up_names(tmp_path, dirs):
    study = make_pair(tmp_path, dirs)
    folder = tmp_path / "study"
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert manifest["mode"] == "pair" and manifest["seed"] == 11 and manifest["methods"] == ["telea", "ns"]
    assert len(study.trials) == 2 * N_IMAGES
    assert manifest["pairing"] == {"telea": "matched by file name", "ns": "matched by file name"}
    for trial in study.trials:
        real_rel, fake_rel = trial.images
        # Names say nothing about the source: no original names, no formats other than PNG.
        assert "photo" not in real_rel + fake_rel and real_rel.endswith(".png") and fake_rel.endswith(".png")
        real_src, fake_src = trial.sources
        assert Path(real_src).stem == Path(fake_src).stem  # an inpainted photo against its own original
        assert np.array_equal(pixels(folder / real_rel), pixels(dirs["real"] / real_src))
        method_dir = dirs[trial.method]
        assert np.array_equal(pixels(folder / fake_rel), pixels(method_dir / fake_src))
        for rel in trial.images:
            assert Image.open(folder / rel).format == "PNG"
    # Each real photo is stored once, however many trials show it.
    assert len(list((folder / "images" / "real").iterdir())) == N_IMAGES
    assert (folder / DB_NAME).is_file()


def test_unmatched_names_pair_with_random_real_photos(tmp_path, dirs):
    study = create_study(tmp_path / "s", dirs["real"], [("gan", dirs["other"])], seed=5)
    assert json.loads((tmp_path / "s" / MANIFEST_NAME).read_text())["pairing"] == {"gan": "random real photo"}
    reals = [t.sources[0] for t in study.trials]
    assert sorted(reals) == sorted(p.name for p in dirs["real"].iterdir())  # each real used once while it lasts


def test_fake_names(tmp_path, dirs):
    assert parse_fake(str(dirs["telea"])) == ("telea", dirs["telea"])
    assert parse_fake(f"DeepFill-v2={dirs['ns']}") == ("DeepFill-v2", dirs["ns"])
    with pytest.raises(InvalidArgumentError, match="method name"):
        parse_fake(f"bad name={dirs['ns']}")
    with pytest.raises(InvalidArgumentError, match="given twice"):
        create_study(tmp_path / "s", dirs["real"], [("a", dirs["ns"]), ("a", dirs["telea"])])


def test_create_refuses_bad_input(tmp_path, dirs):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidArgumentError, match="holds no images"):
        create_study(tmp_path / "s1", dirs["real"], [("x", empty)])
    with pytest.raises(InputNotFoundError):
        create_study(tmp_path / "s2", dirs["real"], [("x", tmp_path / "missing")])
    with pytest.raises(InvalidArgumentError, match="mode"):
        create_study(tmp_path / "s3", dirs["real"], [("x", dirs["ns"])], mode="triple")
    with pytest.raises(InvalidArgumentError, match="count"):
        create_study(tmp_path / "s4", dirs["real"], [("x", dirs["ns"])], count=0)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        create_study(occupied, dirs["real"], [("x", dirs["ns"])])
    assert (occupied / "keep.txt").read_text() == "mine"
    (dirs["ns"] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(Exception) as info:
        create_study(tmp_path / "s5", dirs["real"], [("x", dirs["ns"])])
    assert "broken.png" in str(info.value)
    assert not (tmp_path / "s5" / MANIFEST_NAME).exists()


def test_count_and_seed_are_reproducible(tmp_path, dirs):
    a = create_study(tmp_path / "a", dirs["real"], [("telea", dirs["telea"])], count=2, seed=1)
    b = create_study(tmp_path / "b", dirs["real"], [("telea", dirs["telea"])], count=2, seed=1)
    c = create_study(tmp_path / "c", dirs["real"], [("telea", dirs["telea"])], count=2, seed=2)
    assert len(a.trials) == 2
    assert [t.sources for t in a.trials] == [t.sources for t in b.trials]
    assert [t.sources for t in a.trials] != [t.sources for t in c.trials]


def test_manifest_cannot_point_outside_the_folder(tmp_path, dirs):
    make_pair(tmp_path, dirs)
    path = tmp_path / "study" / MANIFEST_NAME
    data = json.loads(path.read_text())
    data["trials"][0]["images"][0] = "../../etc/passwd"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="outside the study folder"):
        Study(tmp_path / "study")
    with pytest.raises(ConfigError, match="not a study folder"):
        Study(tmp_path)


# --- randomisation -----------------------------------------------------------------------------


def test_order_and_sides_are_deterministic_per_participant(tmp_path, dirs):
    study = make_pair(tmp_path, dirs)
    again = Study(tmp_path / "study")
    p, q = "participant-aaaa", "participant-bbbb"
    assert study.order(p) == again.order(p)
    assert sorted(study.order(p)) == list(range(len(study.trials)))
    assert study.order(p) != study.order(q)
    sides_p = [study.real_slot(p, t) for t in range(len(study.trials))]
    assert sides_p == [again.real_slot(p, t) for t in range(len(study.trials))]
    assert set(sides_p) <= {0, 1}
    # Over many participants the real photo is on each side about half the time.
    slots = [study.real_slot(f"person-{i:04d}", t) for i in range(200) for t in range(len(study.trials))]
    assert 0.45 < np.mean(slots) < 0.55
    # The image in a slot follows the side.
    for t in range(len(study.trials)):
        real_slot = study.real_slot(p, t)
        assert study.slot_image(p, t, real_slot) == study.folder / study.trials[t].images[0]
        assert study.slot_image(p, t, 1 - real_slot) == study.folder / study.trials[t].images[1]


def test_another_seed_gives_another_layout(tmp_path, dirs):
    a = make_pair(tmp_path / "a", dirs, seed=1)
    b = make_pair(tmp_path / "b", dirs, seed=2)
    p = "participant-aaaa"
    assert a.order(p) != b.order(p) or [a.real_slot(p, t) for t in range(12)] != [b.real_slot(p, t) for t in range(12)]


def test_per_participant_limits_the_trials(tmp_path, dirs):
    study = make_pair(tmp_path, dirs, per_participant=4)
    order = study.order("participant-aaaa")
    assert len(order) == 4
    left_out = next(t for t in range(len(study.trials)) if t not in order)
    with pytest.raises(InvalidArgumentError, match="not one of this participant's"):
        study.record_vote("participant-aaaa", left_out, "0")


# --- votes -------------------------------------------------------------------------------------


def test_wal_mode_is_on(tmp_path, dirs):
    make_pair(tmp_path, dirs)
    con = sqlite3.connect(tmp_path / "study" / DB_NAME)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()


def test_votes_are_stored_and_a_double_submit_counts_once(tmp_path, dirs):
    study = make_pair(tmp_path, dirs)
    p = "participant-aaaa"
    t = study.order(p)[0]
    fooled_choice = choice_for(study, p, t, fooled=True)
    before = dt.datetime.now(dt.timezone.utc)
    assert study.record_vote(p, t, fooled_choice, response_ms=1234) is True
    assert study.record_vote(p, t, str(1 - int(fooled_choice))) is False  # the first answer stands
    votes = study.votes()
    assert len(votes) == 1
    v = votes[0]
    assert (v.participant, v.trial, v.method, v.choice, v.judged_real, v.response_ms) == (
        p, t, study.trials[t].method, fooled_choice, True, 1234)
    assert v.real_slot == study.real_slot(p, t)
    stamp = dt.datetime.fromisoformat(v.created_at)
    assert stamp.tzinfo is not None and abs((stamp - before).total_seconds()) < 60
    # A different participant may answer the same trial.
    assert study.record_vote("participant-bbbb", t, "0") is True
    assert len(study.votes()) == 2


def test_concurrent_double_submits_count_once(tmp_path, dirs):
    study = make_pair(tmp_path, dirs)
    p = "participant-race"
    t = study.order(p)[0]
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def vote() -> None:
        barrier.wait()
        results.append(Study(study.folder).record_vote(p, t, "0"))

    threads = [threading.Thread(target=vote) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [False] * 7 + [True]
    assert len(study.votes()) == 1


def test_bad_votes_are_refused(tmp_path, dirs):
    study = make_pair(tmp_path, dirs)
    with pytest.raises(InvalidArgumentError, match="participant"):
        study.record_vote("x", 0, "0")
    with pytest.raises(InvalidArgumentError, match="participant"):
        study.record_vote("../../../etc/passwd", 0, "0")
    with pytest.raises(InvalidArgumentError, match="no trial"):
        study.record_vote("participant-aaaa", 999, "0")
    with pytest.raises(InvalidArgumentError, match="choice"):
        study.record_vote("participant-aaaa", 0, "real")
    assert study.votes() == []


def test_study_api_end_to_end(tmp_path, dirs):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    study = make_pair(tmp_path, dirs, per_participant=3)
    client = TestClient(create_app(ServerSettings(study_dir=study.folder)))
    assert client.get("/api/health").json()["study"] is True
    page = client.get("/study")
    assert page.status_code == 200 and "study.js" in page.text
    info = client.get("/api/study").json()
    assert info == {"mode": "pair", "question": study.question, "trials": 3}
    token = client.post("/api/study/session").json()["token"]
    p = study.participant_of(token)
    seen = []
    while True:
        nxt = client.get("/api/study/next", params={"participant": token}).json()
        if nxt["done"]:
            assert nxt["answered"] == nxt["total"] == 3
            break
        t = nxt["trial"]
        seen.append(t)
        assert nxt["answered"] == len(seen) - 1
        assert len(nxt["images"]) == 2
        for url in nxt["images"]:
            assert "png" not in url.lower() and "real" not in url.lower() and "images/" not in url
        shown = [client.get(url) for url in nxt["images"]]
        assert all(r.status_code == 200 and r.headers["content-type"] == "image/png" for r in shown)
        real_bytes = (study.folder / study.trials[t].images[0]).read_bytes()
        real_slot = [r.content for r in shown].index(real_bytes)
        assert real_slot == study.real_slot(p, t)
        # Pick the fake: the participant was fooled.
        vote = {"participant": token, "trial": t, "choice": str(1 - real_slot), "response_ms": 900}
        assert client.post("/api/study/vote", json=vote).json() == {"recorded": True}
        assert client.post("/api/study/vote", json=vote).json() == {"recorded": False}
    assert seen == study.order(p)
    votes = study.votes()
    assert len(votes) == 3 and all(v.judged_real and v.participant == p for v in votes)
    # Errors are JSON 422s.
    r = client.post("/api/study/vote", json={"participant": token, "trial": seen[0], "choice": "maybe"})
    assert r.status_code == 422 and "choice" in r.json()["error"]
    r = client.get("/api/study/next", params={"participant": "short"})
    assert r.status_code == 422 and "participant" in r.json()["error"]
    r = client.get("/api/study/image", params={"participant": token, "trial": 10_000, "slot": 0})
    assert r.status_code == 422
    r = client.get("/api/study/image", params={"participant": token, "trial": 0, "slot": 2})
    assert r.status_code == 422
    # A made-up participant id, or a token with another signature, is refused everywhere.
    for fake in ("participant-web1", token[:22] + "A" * 22):
        assert client.get("/api/study/next", params={"participant": fake}).status_code == 403
        assert client.get("/api/study/image", params={"participant": fake, "trial": 0, "slot": 0}).status_code == 403


# --- the report --------------------------------------------------------------------------------


def binom_two_sided_half(k: int, n: int) -> float:
    tail = sum(math.comb(n, i) for i in range(0, min(k, n - k) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def clopper_pearson_by_hand(k: int, n: int) -> tuple[float, float]:
    """The exact 95 % interval by bisection on the binomial tails (no scipy)."""

    def tail_at_least(p: float) -> float:
        return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))

    def tail_at_most(p: float) -> float:
        return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(0, k + 1))

    def solve(f, increasing: bool) -> float:
        lo, hi = 0.0, 1.0
        for _ in range(100):
            mid = (lo + hi) / 2
            if (f(mid) < 0.025) == increasing:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    low = 0.0 if k == 0 else solve(tail_at_least, True)
    high = 1.0 if k == n else solve(tail_at_most, False)
    return low, high


def test_exact_interval_against_hand_computation():
    assert exact_interval(0, 10) == pytest.approx((0.0, 0.30850), abs=1e-5)  # the well-known 0/10 bound
    for k, n in [(7, 20), (1, 3), (50, 100), (99, 100), (0, 1), (13, 13), (15, 21)]:
        assert exact_interval(k, n) == pytest.approx(clopper_pearson_by_hand(k, n), abs=1e-9)
    low, high = exact_interval(0, 0)
    assert math.isnan(low) and math.isnan(high)


def test_pair_report_numbers(tmp_path, dirs):
    study = make_pair(tmp_path, dirs)
    telea = [t.id for t in study.trials if t.method == "telea"]
    ns = [t.id for t in study.trials if t.method == "ns"]
    # telea: 4 participants x 5 trials = 20 votes, 7 fooled; ns: 2 x 5 = 10 votes, none fooled.
    fooled_left = 7
    for i in range(4):
        p = f"participant-{i:04d}"
        for t in telea[:5]:
            study.record_vote(p, t, choice_for(study, p, t, fooled=fooled_left > 0))
            fooled_left -= 1
    for i in range(2):
        p = f"participant-{i:04d}"
        for t in ns[:5]:
            study.record_vote(p, t, choice_for(study, p, t, fooled=False))
    rows = {r.method: r for r in report(study)}
    assert list(rows) == ["telea", "ns"]
    r = rows["telea"]
    assert (r.votes, r.judged_real, r.participants) == (20, 7, 4)
    assert r.rate == pytest.approx(0.35)
    assert (r.low, r.high) == pytest.approx(clopper_pearson_by_hand(7, 20), abs=1e-9)
    assert r.reference == 0.5
    assert r.p_value == pytest.approx(binom_two_sided_half(7, 20), rel=1e-9)
    r = rows["ns"]
    assert (r.votes, r.judged_real, r.rate) == (10, 0, 0.0)
    assert (r.low, r.high) == pytest.approx((0.0, 0.30850), abs=1e-5)
    assert r.p_value == pytest.approx(2 / 2 ** 10)
    text = format_report(study, list(rows.values()))
    assert "35.0%" in text and "[" in text and "chance" in text
    # telea: p = 0.26, so no claim either way; ns: 0 of 10, p = 0.002, below chance.
    assert verdict(rows["telea"]) == "no diff." and verdict(rows["ns"]) == "below"
    assert "30 votes" in text


def test_single_report_compares_with_the_real_photos(tmp_path, dirs):
    study = create_study(tmp_path / "s", dirs["real"], [("telea", dirs["telea"])], mode="single", seed=4)
    assert len(study.trials) == 2 * N_IMAGES
    reals = [t.id for t in study.trials if t.is_real]
    fakes = [t.id for t in study.trials if not t.is_real]
    assert len(reals) == len(fakes) == N_IMAGES
    with pytest.raises(InvalidArgumentError, match="slot"):
        study.slot_image("participant-aaaa", 0, 1)
    # Real photos: 5 of 6 called real; telea: 2 of 6 called real.
    p = "participant-aaaa"
    for i, t in enumerate(reals):
        study.record_vote(p, t, "real" if i < 5 else "fake")
    for i, t in enumerate(fakes):
        study.record_vote(p, t, "real" if i < 2 else "fake")
    rows = {r.method: r for r in report(study)}
    assert list(rows) == ["real", "telea"]
    assert (rows["real"].votes, rows["real"].judged_real) == (6, 5)
    assert (rows["telea"].votes, rows["telea"].judged_real) == (6, 2)
    assert rows["telea"].reference == pytest.approx(5 / 6)
    assert (rows["telea"].low, rows["telea"].high) == pytest.approx(clopper_pearson_by_hand(2, 6), abs=1e-9)
    # Fisher's exact test by hand: tables with the same margins at most as likely as the observed one.
    def hyper(a: int) -> float:
        return math.comb(7, a) * math.comb(5, 6 - a) / math.comb(12, 6)
    observed = hyper(2)
    expected_p = sum(hyper(a) for a in range(1, 7) if hyper(a) <= observed * (1 + 1e-7))
    assert rows["telea"].p_value == pytest.approx(expected_p, rel=1e-9)
    assert "real photos" in format_report(study, list(rows.values()))


def test_report_csv_and_cli(tmp_path, dirs):
    from typer.testing import CliRunner

    from holefill.cli import app

    runner = CliRunner()
    out = tmp_path / "cli-study"
    r = runner.invoke(app, ["study", "create", "--real", str(dirs["real"]), "--fake", str(dirs["telea"]),
                            "--fake", f"navier={dirs['ns']}", "--out", str(out), "--seed", "9", "--count", "3"])
    assert r.exit_code == 0, r.output
    study = Study(out)
    assert study.methods == ("telea", "navier") and len(study.trials) == 6 and study.seed == 9
    p = "participant-cli1"
    for t in study.order(p):
        study.record_vote(p, t, choice_for(study, p, t, fooled=study.trials[t].method == "telea"))
    csv_path = tmp_path / "report.csv"
    r = runner.invoke(app, ["study", "report", str(out), "--csv", str(csv_path)])
    assert r.exit_code == 0, r.output
    assert "telea" in r.output and "navier" in r.output and "100.0%" in r.output
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    by = {row["method"]: row for row in rows}
    assert by["telea"]["votes"] == "3" and by["telea"]["judged_real"] == "3" and float(by["telea"]["rate"]) == 1.0
    assert float(by["navier"]["rate"]) == 0.0
    assert float(by["navier"]["ci_high"]) == pytest.approx(clopper_pearson_by_hand(0, 3)[1], abs=1e-6)
    assert by["telea"]["reference"] == "0.500000"
    # Not replaced unasked; errors are one line and exit 2.
    r = runner.invoke(app, ["study", "report", str(out), "--csv", str(csv_path)])
    assert r.exit_code == 2 and "--overwrite" in r.output
    r = runner.invoke(app, ["study", "create", "--real", str(dirs["real"]), "--fake", str(dirs["telea"]),
                            "--out", str(out)])
    assert r.exit_code == 2 and "not empty" in r.output
    r = runner.invoke(app, ["study", "report", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "no such study folder" in r.output


def test_empty_report_has_no_numbers(tmp_path, dirs):
    study = make_pair(tmp_path, dirs)
    rows = report(study)
    assert all(r.votes == 0 and math.isnan(r.rate) and math.isnan(r.low) for r in rows)
    path = write_report_csv(rows, tmp_path / "empty.csv", study.mode)
    first = list(csv.DictReader(io.StringIO(path.read_text())))[0]
    assert first["rate"] == "" and first["votes"] == "0"
    assert "-" in format_report(study, rows)


# --- the report's words follow its test (issue 18) ----------------------------------------------


def test_the_words_follow_the_test_not_a_second_interval(tmp_path, dirs):
    """15 of 21 fooled: the Wilson interval's lower end (50.04 %) is above chance, but the exact
    test gives p = 0.078; the report said "above 50.0 %". It must not claim a difference."""
    study = make_pair(tmp_path, dirs)
    trials = list(range(len(study.trials)))  # 12 trials: 2 participants give 21 votes
    given = 0
    for i in range(2):
        p = f"participant-{i:04d}"
        for t in trials[: 21 - 12 * i if i else 12]:
            study.record_vote(p, t, choice_for(study, p, t, fooled=given < 15))
            given += 1
    rows = report(study)
    total = [r for r in rows if r.votes]
    assert sum(r.votes for r in total) == 21 and sum(r.judged_real for r in total) == 15
    # Per method the counts differ; check the rule on the pooled case directly as well.
    from holefill.web.study import ReportRow

    pooled = ReportRow("pooled", 21, 15, 15 / 21, *exact_interval(15, 21), 0.5,
                       binom_two_sided_half(15, 21), 2)
    assert pooled.p_value == pytest.approx(0.0784, abs=1e-4)
    assert pooled.low < 0.5 < pooled.high  # the exact interval agrees with the test
    assert verdict(pooled) == "no diff."
    text = format_report(study, rows)
    assert "above 50.0%" not in text or all(r.p_value < 0.05 for r in rows if "above" in verdict(r))


@pytest.mark.parametrize("n", [5, 12, 21, 40, 100])
def test_interval_and_test_never_disagree(n):
    from holefill.web.study import ReportRow

    for k in range(n + 1):
        low, high = exact_interval(k, n)
        p = binom_two_sided_half(k, n)
        row = ReportRow("m", n, k, k / n, low, high, 0.5, p, 1)
        claims = verdict(row) in ("above", "below")
        assert claims == (p < 0.05) == (not low <= 0.5 <= high), (k, n, low, high, p)
        if claims:
            assert (verdict(row) == "above") == (low > 0.5)


# --- strangers: tokens and caps (issue 11) --------------------------------------------------------


def _served(study: Study, **settings):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    client = TestClient(create_app(ServerSettings(study_dir=study.folder, **settings)))
    client.__enter__()  # run the startup (it records the caps)
    return client


def _vote_all(client, study: Study, participant: str, token: str | None = None) -> list[int]:
    """Vote "fooled" on every one of the participant's trials; the HTTP statuses."""
    who = token or participant
    pid = study.participant_of(token) if token else participant
    statuses = []
    for t in study.order(pid):
        vote = {"participant": who, "trial": t, "choice": choice_for(study, pid, t, fooled=True)}
        statuses.append(client.post("/api/study/vote", json=vote).status_code)
    return statuses


def test_forty_invented_participant_ids_cannot_fake_a_result(tmp_path, dirs):
    """The attack from the issue: 40 made-up ids recorded 240 votes (a 100 % fooling rate at
    p = 6e-73 with "41 participants"). Now none counts, and the report says so."""
    study = make_pair(tmp_path, dirs, per_participant=6)
    client = _served(study)
    try:
        statuses = [s for i in range(40) for s in _vote_all(client, study, f"made-up-id-{i:04d}")]
    finally:
        client.__exit__(None, None, None)
    assert len(statuses) == 240 and set(statuses) == {403}
    assert study.votes() == []
    assert study.refusals() == {"bad_token": 240}
    text = format_report(study, report(study))
    assert "refused votes: 240" in text and "240 without a valid participant token" in text
    assert "6 per participant token, 6 per client address" in text


def test_tokens_from_one_address_are_capped_at_one_participants_worth(tmp_path, dirs):
    """The same attack with real tokens: each is signed, but one address casts at most one
    participant's questions (6) by default, whatever the number of tokens."""
    study = make_pair(tmp_path, dirs, per_participant=6)
    client = _served(study)
    try:
        statuses = []
        for _ in range(12):
            token = client.post("/api/study/session").json()["token"]
            statuses += _vote_all(client, study, "", token)
    finally:
        client.__exit__(None, None, None)
    assert statuses.count(200) == 6 and statuses.count(429) == 66
    assert len(study.votes()) == 6
    assert study.refusals() == {"address_cap": 66}
    text = format_report(study, report(study))
    assert "1 participants, 6 votes" in text
    assert "refused votes: 66 (66 over the per-address cap" in text


def test_caps_are_settings_and_a_repeat_is_not_a_refusal(tmp_path, dirs):
    study = make_pair(tmp_path, dirs, per_participant=6)
    client = _served(study, study_votes_per_token=2, study_votes_per_address=0)
    try:
        token = client.post("/api/study/session").json()["token"]
        pid = study.participant_of(token)
        first = study.order(pid)[0]
        vote = {"participant": token, "trial": first, "choice": "0"}
        assert client.post("/api/study/vote", json=vote).json() == {"recorded": True}
        assert client.post("/api/study/vote", json=vote).json() == {"recorded": False}  # ignored, not refused
        assert _vote_all(client, study, "", token) == [200, 200, 429, 429, 429, 429]
        r = client.post("/api/study/vote", json=vote)
        assert r.status_code == 200 and r.json() == {"recorded": False}
        other = client.post("/api/study/session").json()["token"]  # no per-address cap: 0 means none
        assert _vote_all(client, study, "", other).count(200) == 2
    finally:
        client.__exit__(None, None, None)
    assert study.refusals() == {"token_cap": 8}  # 4 for each token
    assert [c for _, c in study.caps_history()] == [VoteCaps(2, None)]
    assert "2 per participant token, no cap per client address" in format_report(study, report(study))


def test_tokens_belong_to_their_study(tmp_path, dirs):
    one = make_pair(tmp_path / "a", dirs)
    two = make_pair(tmp_path / "b", dirs)
    token = one.issue_token()
    assert one.participant_of(token) == token[:22]
    from holefill.web.study import StudyTokenError

    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 44, "short", token + "A"):
        with pytest.raises(StudyTokenError):
            one.participant_of(bad)
    with pytest.raises(StudyTokenError):
        two.participant_of(token)
    assert (one.folder / "secret.key").stat().st_mode & 0o077 == 0


def test_votes_store_a_keyed_hash_of_the_address_not_the_address(tmp_path, dirs):
    study = make_pair(tmp_path, dirs, per_participant=2)
    pid = study.participant_of(study.issue_token())
    study.record_vote(pid, study.order(pid)[0], "0", address="203.0.113.7", caps=VoteCaps(2, 2))
    con = sqlite3.connect(study.folder / DB_NAME)
    (stored,) = con.execute("SELECT address FROM votes").fetchone()
    con.close()
    assert stored and "203.0.113" not in stored and stored == study.address_key("203.0.113.7")


def test_client_addresses_group_ipv6_by_64():
    pytest.importorskip("fastapi")
    from holefill.web.server import client_address

    assert client_address({"client": ("203.0.113.7", 5)}) == "203.0.113.7"
    assert client_address({"client": ("2001:db8:1:2:aaaa::1", 5)}) == client_address({"client": ("2001:db8:1:2::9", 5)})
    assert client_address({"client": ("2001:db8:1:3::1", 5)}) != client_address({"client": ("2001:db8:1:2::1", 5)})
    assert client_address({"client": ("::ffff:203.0.113.7", 5)}) == "203.0.113.7"
