"""Realism studies: do people take a method's fills for real photos?

This is the crowd-worker evaluation used by the inpainting and image-synthesis papers: show
a participant a real photo and a generated one side by side and ask which is real (``pair``
mode, chance is 50 %), or one image at a time and ask whether it is real (``single`` mode,
compared with how often the real photos are called real). A method's *fooling rate* is how
often its image is judged real.

A study is a folder that :func:`create_study` writes and nothing else changes except the
votes database:

- ``study.json``: the manifest (mode, seed, methods, trials);
- ``images/``: every image, decoded and re-encoded as PNG under names holefill makes up, so
  neither a file name, a format nor metadata can tell a participant which image is real;
- ``votes.sqlite``: the votes, in WAL mode, one row per (participant, trial); the vote caps
  the server ran with and how many votes it refused;
- ``secret.key``: made when the study is first served; it signs participant tokens.

Each participant gets their own trial order and sides, derived from the study's seed and
their id, so a page reload shows the same trial on the same side and the analysis can
rebuild what anyone saw.

A served study is open to strangers, so a vote counts only with a participant token that the
server issued and signed (one per browser session, :meth:`Study.issue_token`); made-up ids
are refused. Votes are capped per token and per client address (:class:`VoteCaps`; by
default one participant's worth of questions per address); the report shows the caps and
every refused vote.
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import hashlib
import hmac
import json
import os
import math
import random
import re
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from holefill.errors import ConfigError, HolefillError, InputNotFoundError, InvalidArgumentError, OutputExistsError
from holefill.io import encode_image, list_images, read_image, write_bytes_atomic

MANIFEST_NAME = "study.json"
DB_NAME = "votes.sqlite"
KEY_NAME = "secret.key"
STUDY_FORMAT = 1
MODES = ("pair", "single")
#: Participant ids are made by the page (a random UUID); anything else is refused.
PARTICIPANT_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_METHOD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")

QUESTIONS = {
    "pair": "One of these two photos is real and one was made by a computer. Which one is real?",
    "single": "Is this a real photo, or was part of it made by a computer?",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    participant TEXT NOT NULL,
    trial INTEGER NOT NULL,
    method TEXT,               -- NULL for a real photo shown alone (single mode)
    choice TEXT NOT NULL,      -- pair: the slot picked as real ("0"/"1"); single: "real"/"fake"
    real_slot INTEGER,         -- pair: the slot the real photo was shown in
    judged_real INTEGER NOT NULL, -- 1 when the fake (pair) or the shown image (single) was judged real
    response_ms INTEGER,
    created_at TEXT NOT NULL,  -- UTC, ISO 8601
    UNIQUE (participant, trial)
);
CREATE INDEX IF NOT EXISTS votes_method ON votes (method);
-- Why votes were refused, and how many (reason: token_cap, address_cap, bad_token).
CREATE TABLE IF NOT EXISTS refusals (
    reason TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
-- The vote caps of each time the study was served with caps that differ from the last.
CREATE TABLE IF NOT EXISTS caps (
    id INTEGER PRIMARY KEY,
    since TEXT NOT NULL,       -- UTC, ISO 8601
    per_token INTEGER,         -- NULL: no cap
    per_address INTEGER        -- NULL: no cap
);
"""
#: Columns added after the first study format; added to older databases when they are opened.
_ADDED_COLUMNS = {"address": "TEXT"}  # a keyed hash of the client's address, never the address
#: Token = participant id (16 random bytes) + its signature (16 bytes of HMAC-SHA256), base64url.
_TOKEN_PART = 22
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{44}$")


class StudyTokenError(HolefillError):
    """A participant token that this study's server did not issue."""


class VoteRefused(HolefillError):
    """A vote over a cap; ``reason`` is ``token_cap`` or ``address_cap``."""

    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(problem)
        self.reason = reason


@dataclass(frozen=True)
class VoteCaps:
    """How many votes one participant token and one client address may cast in a study
    (None: no cap)."""

    per_token: int | None
    per_address: int | None

    @classmethod
    def default(cls, study: "Study", per_token: int | None = None, per_address: int | None = None) -> "VoteCaps":
        """Caps for serving ``study``: by default both are one participant's number of
        questions; 0 means no cap."""
        one = study.trials_per_participant
        token = one if per_token is None else (per_token or None)
        address = one if per_address is None else (per_address or None)
        return cls(token, address)


@dataclass(frozen=True)
class Trial:
    """One question. ``images`` are paths inside the study folder.

    Pair mode: ``images == (real, fake)`` and ``method`` names the fake's method. Single
    mode: one image, and ``method`` is None when it is a real photo.
    """

    id: int
    method: str | None
    images: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def is_real(self) -> bool:
        return self.method is None


@dataclass(frozen=True)
class Vote:
    participant: str
    trial: int
    method: str | None
    choice: str
    real_slot: int | None
    judged_real: bool
    response_ms: int | None
    created_at: str


def _derive(seed: int, *parts: object) -> int:
    """A 64-bit number fixed by ``seed`` and ``parts`` (stable across runs and machines)."""
    text = "\x1f".join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def check_participant(participant: str) -> str:
    if not isinstance(participant, str) or not PARTICIPANT_RE.match(participant):
        raise InvalidArgumentError("participant: must be 8 to 64 letters, digits, '-' or '_'")
    return participant


def connect(db_path: Path) -> sqlite3.Connection:
    """A connection to the votes database in WAL mode, waiting up to 10 s for a lock."""
    con = sqlite3.connect(db_path, timeout=10.0)
    con.execute("PRAGMA busy_timeout = 10000")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    return con


class Study:
    """A study folder: its manifest, trial layout per participant, and votes."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        manifest_path = self.folder / MANIFEST_NAME
        if not self.folder.is_dir():
            raise InputNotFoundError("no such study folder", self.folder)
        if not manifest_path.is_file():
            raise ConfigError(f"is not a study folder (no {MANIFEST_NAME}; make one with holefill study create)",
                              self.folder)
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot be read ({exc})", manifest_path) from None
        try:
            if data.get("format") != STUDY_FORMAT:
                raise ConfigError(f"has format {data.get('format')!r}; this holefill reads format {STUDY_FORMAT}",
                                  manifest_path)
            self.mode: str = data["mode"]
            if self.mode not in MODES:
                raise ConfigError(f"mode must be pair or single, got {self.mode!r}", manifest_path)
            self.seed: int = int(data["seed"])
            self.question: str = str(data.get("question") or QUESTIONS[self.mode])
            self.methods: tuple[str, ...] = tuple(str(m) for m in data["methods"])
            per = data.get("per_participant")
            self.per_participant: int | None = None if per is None else int(per)
            self.trials: tuple[Trial, ...] = tuple(
                Trial(int(t["id"]), t["method"], tuple(t["images"]), tuple(t.get("sources", ())))
                for t in data["trials"]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"is not a valid study manifest ({type(exc).__name__}: {exc})", manifest_path) from None
        root = self.folder.resolve()
        for i, trial in enumerate(self.trials):
            want = 2 if self.mode == "pair" else 1
            if trial.id != i or len(trial.images) != want:
                raise ConfigError(f"trial {i} is malformed", manifest_path)
            for rel in trial.images:
                path = (root / rel).resolve()
                if not path.is_relative_to(root) or not path.is_file():
                    raise ConfigError(f"trial {i}: image {rel!r} is missing or outside the study folder",
                                      manifest_path)
        self.db_path = self.folder / DB_NAME
        con = self.connect()
        try:
            with con:
                con.executescript(_SCHEMA)
                have = {row[1] for row in con.execute("PRAGMA table_info(votes)")}
                for column, kind in _ADDED_COLUMNS.items():
                    if column not in have:
                        con.execute(f"ALTER TABLE votes ADD COLUMN {column} {kind}")
        finally:
            con.close()
        self._key: bytes | None = None

    def connect(self) -> sqlite3.Connection:
        return connect(self.db_path)

    @property
    def trials_per_participant(self) -> int:
        n = len(self.trials)
        return n if self.per_participant is None else min(self.per_participant, n)

    # --- participant tokens ------------------------------------------------------

    def _secret(self) -> bytes:
        """The study's signing key, made (readable by its owner only) the first time."""
        if self._key is None:
            path = self.folder / KEY_NAME
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32) + "\n")
            try:
                key = bytes.fromhex(path.read_text().strip())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot be read as the study's key ({exc}); delete it to make a new one"
                                  " (tokens already issued stop working)", path) from None
            if len(key) < 16:
                raise ConfigError("is too short to be the study's key; delete it to make a new one", path)
            self._key = key
        return self._key

    def _sign(self, data: str) -> str:
        mac = hmac.new(self._secret(), f"holefill-study-v1|{data}".encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue_token(self) -> str:
        """A new participant token: a random participant id and the server's signature of it."""
        pid = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        return pid + self._sign(pid)

    def participant_of(self, token: str) -> str:
        """The participant id inside a token this study issued, or a :class:`StudyTokenError`."""
        if not isinstance(token, str) or not TOKEN_RE.match(token):
            raise StudyTokenError("participant: not a participant token of this study; reload the page to get one")
        pid, mac = token[:_TOKEN_PART], token[_TOKEN_PART:]
        if not hmac.compare_digest(mac, self._sign(pid)):
            raise StudyTokenError("participant: not a participant token of this study; reload the page to get one")
        return pid

    def address_key(self, address: str) -> str:
        """What the votes table stores for a client address: a keyed hash, not the address."""
        return self._sign("address|" + address)

    # --- caps and refusals --------------------------------------------------------

    def record_caps(self, caps: VoteCaps, *, now: _dt.datetime | None = None) -> None:
        """Note the caps the study is served with (a new row only when they changed)."""
        stamp = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc).isoformat(timespec="seconds")
        con = self.connect()
        try:
            with con:
                last = con.execute("SELECT per_token, per_address FROM caps ORDER BY id DESC LIMIT 1").fetchone()
                if last is None or tuple(last) != (caps.per_token, caps.per_address):
                    con.execute("INSERT INTO caps (since, per_token, per_address) VALUES (?, ?, ?)",
                                (stamp, caps.per_token, caps.per_address))
        finally:
            con.close()

    def caps_history(self) -> list[tuple[str, VoteCaps]]:
        """(since, caps) for each time the study was served with new caps, oldest first."""
        con = self.connect()
        try:
            rows = con.execute("SELECT since, per_token, per_address FROM caps ORDER BY id").fetchall()
        finally:
            con.close()
        return [(since, VoteCaps(t, a)) for since, t, a in rows]

    def count_refusal(self, reason: str) -> None:
        con = self.connect()
        try:
            with con:
                con.execute("INSERT INTO refusals (reason, count) VALUES (?, 1)"
                            " ON CONFLICT(reason) DO UPDATE SET count = count + 1", (reason,))
        finally:
            con.close()

    def refusals(self) -> dict[str, int]:
        """How many votes were refused, by reason (token_cap, address_cap, bad_token)."""
        con = self.connect()
        try:
            rows = con.execute("SELECT reason, count FROM refusals").fetchall()
        finally:
            con.close()
        return {str(r): int(c) for r, c in rows}

    # --- what a participant sees -------------------------------------------------

    def order(self, participant: str) -> list[int]:
        """The trial ids this participant answers, in the order shown."""
        check_participant(participant)
        ids = list(range(len(self.trials)))
        random.Random(_derive(self.seed, "order", participant)).shuffle(ids)
        if self.per_participant is not None:
            ids = ids[: self.per_participant]
        return ids

    def real_slot(self, participant: str, trial_id: int) -> int:
        """Pair mode: the slot (0 = left/first, 1 = right/second) that shows the real photo."""
        return _derive(self.seed, "side", participant, trial_id) & 1

    def slot_image(self, participant: str, trial_id: int, slot: int) -> Path:
        """The file shown in ``slot`` of a trial for this participant."""
        trial = self._trial(trial_id)
        check_participant(participant)
        if self.mode == "single":
            if slot != 0:
                raise InvalidArgumentError(f"slot: single mode has only slot 0, got {slot}")
            rel = trial.images[0]
        else:
            if slot not in (0, 1):
                raise InvalidArgumentError(f"slot: must be 0 or 1, got {slot}")
            real, fake = trial.images
            rel = real if slot == self.real_slot(participant, trial_id) else fake
        return self.folder / rel

    def _trial(self, trial_id: int) -> Trial:
        if isinstance(trial_id, bool) or not isinstance(trial_id, int) or not 0 <= trial_id < len(self.trials):
            raise InvalidArgumentError(f"trial: no trial {trial_id!r} in this study")
        return self.trials[trial_id]

    def answered(self, participant: str) -> set[int]:
        check_participant(participant)
        con = self.connect()
        try:
            rows = con.execute("SELECT trial FROM votes WHERE participant = ?", (participant,)).fetchall()
        finally:
            con.close()
        return {int(r[0]) for r in rows}

    def next_trial(self, participant: str) -> tuple[int | None, int, int]:
        """(the next unanswered trial id or None when done, answered so far, total)."""
        order = self.order(participant)
        done = self.answered(participant)
        remaining = [t for t in order if t not in done]
        return (remaining[0] if remaining else None), len(order) - len(remaining), len(order)

    # --- votes --------------------------------------------------------------------

    def record_vote(self, participant: str, trial_id: int, choice: str, *, response_ms: int | None = None,
                    now: _dt.datetime | None = None, address: str | None = None,
                    caps: VoteCaps | None = None) -> bool:
        """Store one answer. Returns False when this participant already answered this trial
        (a double submit counts once: the first answer stands).

        With ``caps``, a vote beyond the participant's or the ``address``'s cap raises
        :class:`VoteRefused` (and is counted in :meth:`refusals`); the check and the insert
        are one transaction, so concurrent votes cannot slip past a cap.
        """
        check_participant(participant)
        trial = self._trial(trial_id)
        if trial_id not in self.order(participant):
            raise InvalidArgumentError(f"trial: trial {trial_id} is not one of this participant's trials")
        real_slot: int | None = None
        if self.mode == "pair":
            if choice not in ("0", "1"):
                raise InvalidArgumentError(f"choice: pair mode takes the slot picked as real, '0' or '1', got {choice!r}")
            real_slot = self.real_slot(participant, trial_id)
            judged_real = int(choice) != real_slot  # the fake was picked as the real one
        else:
            if choice not in ("real", "fake"):
                raise InvalidArgumentError(f"choice: single mode takes 'real' or 'fake', got {choice!r}")
            judged_real = choice == "real"
        if response_ms is not None and (isinstance(response_ms, bool) or not 0 <= int(response_ms) <= 86_400_000):
            raise InvalidArgumentError(f"response_ms: must be between 0 and 86400000, got {response_ms!r}")
        stamp = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds")
        address_key = None if address is None else self.address_key(address)
        refused: VoteRefused | None = None
        con = self.connect()
        try:
            con.isolation_level = None
            con.execute("BEGIN IMMEDIATE")
            try:
                if caps is not None:
                    refused = self._over_cap(con, participant, trial_id, address_key, caps)
                if refused is None:
                    cur = con.execute(
                        "INSERT OR IGNORE INTO votes (participant, trial, method, choice, real_slot, judged_real,"
                        " response_ms, created_at, address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (participant, trial_id, trial.method, choice, real_slot, int(judged_real),
                         None if response_ms is None else int(response_ms), stamp, address_key),
                    )
                    recorded = cur.rowcount == 1
                else:
                    con.execute("INSERT INTO refusals (reason, count) VALUES (?, 1)"
                                " ON CONFLICT(reason) DO UPDATE SET count = count + 1", (refused.reason,))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()
        if refused is not None:
            raise refused
        return recorded

    @staticmethod
    def _over_cap(con: sqlite3.Connection, participant: str, trial_id: int, address_key: str | None,
                  caps: VoteCaps) -> VoteRefused | None:
        """Why this vote would pass a cap, or None. A repeat of a stored vote passes (it is
        ignored, not refused)."""
        if con.execute("SELECT 1 FROM votes WHERE participant = ? AND trial = ?", (participant, trial_id)).fetchone():
            return None
        if caps.per_token is not None:
            (cast,) = con.execute("SELECT COUNT(*) FROM votes WHERE participant = ?", (participant,)).fetchone()
            if cast >= caps.per_token:
                return VoteRefused(f"this participant has cast the {caps.per_token} votes a participant may cast"
                                   " in this study", "token_cap")
        if caps.per_address is not None and address_key is not None:
            (cast,) = con.execute("SELECT COUNT(*) FROM votes WHERE address = ?", (address_key,)).fetchone()
            if cast >= caps.per_address:
                return VoteRefused(f"this network address has cast the {caps.per_address} votes one address may"
                                   " cast in this study; thank you", "address_cap")
        return None

    def votes(self) -> list[Vote]:
        con = self.connect()
        try:
            rows = con.execute(
                "SELECT participant, trial, method, choice, real_slot, judged_real, response_ms, created_at"
                " FROM votes ORDER BY id"
            ).fetchall()
        finally:
            con.close()
        return [Vote(p, int(t), m, c, rs, bool(j), ms, at) for p, t, m, c, rs, j, ms, at in rows]


# --- creating a study -------------------------------------------------------------


def parse_fake(spec: str) -> tuple[str, Path]:
    """``NAME=DIR`` or ``DIR`` (the method is then named after the folder)."""
    if "=" in spec:
        name, _, folder = spec.partition("=")
        name = name.strip()
    else:
        folder = spec
        name = Path(spec.rstrip("/\\")).name
    if not _METHOD_RE.match(name):
        raise InvalidArgumentError(
            f"--fake: method name {name!r} must be letters, digits, '.', '_', '+' or '-' (give NAME=DIR)")
    return name, Path(folder)


def _sample(items: list[Path], count: int | None, rng: random.Random) -> list[Path]:
    if count is None or count >= len(items):
        return list(items)
    return sorted(rng.sample(items, count))


def create_study(out: str | Path, real: str | Path, fakes: Sequence[tuple[str, str | Path]], *, mode: str = "pair",
                 count: int | None = None, seed: int | None = None, per_participant: int | None = None,
                 question: str | None = None, max_pixels: int | None = None) -> Study:
    """Write a study folder at ``out`` and return it.

    ``fakes`` are (method name, folder) pairs. In pair mode each fake is paired with the real
    photo of the same file stem when every fake of that method has one (an inpainted photo
    against its original), else with a real photo drawn at random. ``count`` caps the fakes
    per method (and, in single mode, the real photos), drawn with ``seed``.
    """
    if mode not in MODES:
        raise InvalidArgumentError(f"--mode must be pair or single, got {mode!r}")
    if not fakes:
        raise InvalidArgumentError("a study needs at least one --fake folder")
    if count is not None and count < 1:
        raise InvalidArgumentError(f"--count must be at least 1, got {count}")
    if per_participant is not None and per_participant < 1:
        raise InvalidArgumentError(f"--per-participant must be at least 1, got {per_participant}")
    names = [name for name, _ in fakes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidArgumentError(f"--fake: method {dupes[0]!r} is given twice; name them with NAME=DIR")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputExistsError("already exists and is not empty; choose a new --out folder", out)
    seed = secrets.randbits(32) if seed is None else int(seed)
    rng = random.Random(_derive(seed, "create"))

    real_images = list_images(real)
    if not real_images:
        raise InvalidArgumentError("holds no images (PNG, JPEG, WebP, BMP or TIFF)", real)
    fake_images: dict[str, list[Path]] = {}
    for name, folder in fakes:
        found = list_images(folder)
        if not found:
            raise InvalidArgumentError("holds no images (PNG, JPEG, WebP, BMP or TIFF)", folder)
        fake_images[name] = found

    copied: dict[tuple[Path, str], str] = {}
    staging: list[tuple[Path, str]] = []
    per_group: dict[str, int] = {}

    def place(src: Path, group: str) -> str:
        """The study's own name for ``src`` (copied once, however many trials show it)."""
        if (src, group) not in copied:
            index = per_group.get(group, 0)
            per_group[group] = index + 1
            rel = f"images/{group}/{index:05d}.png"
            copied[(src, group)] = rel
            staging.append((src, rel))
        return copied[(src, group)]

    raw_trials: list[tuple[str | None, tuple[str, ...], tuple[str, ...]]] = []
    pairing: dict[str, str] = {}
    by_stem = {p.stem: p for p in real_images}
    if mode == "pair":
        for m_index, (name, _) in enumerate(fakes):
            chosen = _sample(fake_images[name], count, rng)
            matched = all(p.stem in by_stem for p in chosen)
            pairing[name] = "matched by file name" if matched else "random real photo"
            pool: list[Path] = []
            for fake in chosen:
                if matched:
                    partner = by_stem[fake.stem]
                else:
                    if not pool:
                        pool = list(real_images)
                        rng.shuffle(pool)
                    partner = pool.pop()
                raw_trials.append((name, (place(partner, "real"), place(fake, f"m{m_index}")),
                                   (str(partner.name), str(fake.name))))
    else:
        for real_path in _sample(real_images, count, rng):
            raw_trials.append((None, (place(real_path, "real"),), (str(real_path.name),)))
        for m_index, (name, _) in enumerate(fakes):
            for fake in _sample(fake_images[name], count, rng):
                raw_trials.append((name, (place(fake, f"m{m_index}"),), (str(fake.name),)))

    # Decode every image first (so bad input fails before anything is written), then write.
    encoded = [(rel, encode_image(read_image(src, max_pixels=max_pixels))) for src, rel in staging]
    out.mkdir(parents=True, exist_ok=True)
    for rel, data in encoded:
        write_bytes_atomic(out / rel, data)
    trials = [
        {"id": i, "method": method, "images": list(images), "sources": list(sources)}
        for i, (method, images, sources) in enumerate(raw_trials)
    ]
    manifest = {
        "format": STUDY_FORMAT,
        "mode": mode,
        "seed": seed,
        "question": question or QUESTIONS[mode],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "methods": names,
        "method_folders": {name: str(Path(folder)) for name, folder in fakes},
        "real_folder": str(Path(real)),
        "pairing": pairing,
        "per_participant": per_participant,
        "trials": trials,
    }
    con = connect(out / DB_NAME)
    try:
        with con:
            con.executescript(_SCHEMA)
    finally:
        con.close()
    write_bytes_atomic(out / MANIFEST_NAME, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return Study(out)


# --- the report ---------------------------------------------------------------------


def exact_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Clopper-Pearson ("exact") interval for a binomial proportion (NaNs when ``n == 0``).

    It is the inversion of the exact binomial test, so in pair mode the interval leaves out
    50 % exactly when that test's two-sided p is below 5 %: the report's words, its interval
    and its p-value never disagree (Clopper and Pearson, Biometrika 26(4), 1934).
    """
    if n <= 0:
        return math.nan, math.nan
    if not 0 <= successes <= n:
        raise InvalidArgumentError(f"successes must lie in [0, {n}], got {successes}")
    from scipy.stats import binomtest

    ci = binomtest(successes, n, 0.5).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


#: A difference from the reference is claimed when the test's two-sided p is below this.
ALPHA = 0.05


@dataclass(frozen=True)
class ReportRow:
    """One method's result (or, in single mode, the real photos' reference row, method "real")."""

    method: str
    votes: int
    judged_real: int
    rate: float
    #: The 95 % Clopper-Pearson interval of the rate.
    low: float
    high: float
    #: What the rate is compared with: 0.5 in pair mode, the real photos' rate in single mode.
    reference: float
    #: Two-sided p-value: exact binomial test against 50 % (pair), Fisher's exact test
    #: against the real photos' counts (single). NaN when there is nothing to test.
    p_value: float
    participants: int


def report(study: Study) -> list[ReportRow]:
    """Fooling rates per method with 95 % exact intervals, tested against the reference."""
    from scipy.stats import binomtest, fisher_exact

    votes = study.votes()
    groups: dict[str | None, list[Vote]] = {m: [] for m in study.methods}
    if study.mode == "single":
        groups = {None: [], **groups}
    for v in votes:
        groups.setdefault(v.method, []).append(v)

    def counts(vs: list[Vote]) -> tuple[int, int]:
        return sum(v.judged_real for v in vs), len(vs)

    real_k, real_n = counts(groups.get(None, []))
    real_rate = real_k / real_n if real_n else math.nan
    rows: list[ReportRow] = []
    for method, vs in groups.items():
        k, n = counts(vs)
        low, high = exact_interval(k, n)
        rate = k / n if n else math.nan
        people = len({v.participant for v in vs})
        if study.mode == "pair":
            p = binomtest(k, n, 0.5).pvalue if n else math.nan
            rows.append(ReportRow(str(method), n, k, rate, low, high, 0.5, float(p), people))
        elif method is None:
            rows.append(ReportRow("real", n, k, rate, low, high, math.nan, math.nan, people))
        else:
            p = fisher_exact([[k, n - k], [real_k, real_n - real_k]]).pvalue if n and real_n else math.nan
            rows.append(ReportRow(str(method), n, k, rate, low, high, real_rate, float(p), people))
    return rows


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}%"


def verdict(row: ReportRow) -> str:
    """``above`` or ``below`` the reference when the row's test says so (p < 0.05), ``no diff.``
    when it does not, ``-`` when there is nothing to test. The test decides, nothing else."""
    if math.isnan(row.reference) or row.votes == 0 or math.isnan(row.p_value):
        return "-"
    if row.p_value >= ALPHA:
        return "no diff."
    return "above" if row.rate > row.reference else "below"


def _refusal_lines(study: Study) -> list[str]:
    """What the server refused and the caps it ran with."""
    refused = study.refusals()
    total = sum(refused.values())
    parts = [f"{refused.get('address_cap', 0)} over the per-address cap",
             f"{refused.get('token_cap', 0)} over the per-participant cap",
             f"{refused.get('bad_token', 0)} without a valid participant token"]
    lines = [f"refused votes: {total} ({', '.join(parts)})"]

    def cap(value: int | None) -> str:
        return "no cap" if value is None else str(value)

    history = study.caps_history()
    if not history:
        lines.append("vote caps: none recorded (the study was never served by a holefill that caps votes)")
    for since, caps in history:
        lines.append(f"vote caps since {since}: {cap(caps.per_token)} per participant token,"
                     f" {cap(caps.per_address)} per client address")
    return lines


def format_report(study: Study, rows: list[ReportRow]) -> str:
    """The report as a text table."""
    total = sum(r.votes for r in rows)
    people = len({v.participant for v in study.votes()})
    lines = [
        f"study {study.folder} ({study.mode} mode, {len(study.trials)} trials, {people} participants, {total} votes)",
    ]
    if study.mode == "pair":
        lines.append("fooling rate = how often the method's image was picked as the real one; chance = 50%")
        ref_name = "chance"
    else:
        lines.append("'real' rate = how often an image was called real; a method is compared with the real photos' rate")
        ref_name = "real photos"
    counted = "fooled" if study.mode == "pair" else "said real"
    header = (f"{'method':<16} {'votes':>6} {counted:>9} {'rate':>7}  {'95% CI (exact)':<17} {'vs ' + ref_name:<16}"
              f" {'p':>8}")
    lines.append(header)
    lines.append("-" * len(header))
    for r in rows:
        ci = "-" if math.isnan(r.low) else f"[{_pct(r.low)}, {_pct(r.high)}]"
        p = "-" if math.isnan(r.p_value) else f"{r.p_value:.3g}"
        vs = verdict(r)
        if vs in ("above", "below"):
            vs = f"{vs} {_pct(r.reference)}"
        lines.append(f"{r.method:<16} {r.votes:>6} {r.judged_real:>9} {_pct(r.rate):>7}  {ci:<17} {vs:<16} {p:>8}")
    if study.mode == "pair":
        lines.append("above/below: the exact binomial test against 50% gives p < 0.05 (two-sided), and then the"
                     " exact 95% CI leaves 50% out; no diff.: p >= 0.05")
    else:
        lines.append("above/below: Fisher's exact test against the real photos' counts gives p < 0.05 (two-sided);"
                     " no diff.: p >= 0.05. The CI is the rate's own")
    lines.extend(_refusal_lines(study))
    return "\n".join(lines)


def write_report_csv(rows: list[ReportRow], path: str | Path, mode: str) -> Path:
    """Write the rows as CSV (rates as fractions, NaN left empty)."""
    import io as _io

    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["method", "mode", "votes", "judged_real", "rate", "ci_low", "ci_high", "reference",
                     "p_value", "participants"])

    def num(x: float) -> str:
        return "" if math.isnan(x) else f"{x:.6f}"

    for r in rows:
        writer.writerow([r.method, mode, r.votes, r.judged_real, num(r.rate), num(r.low), num(r.high),
                         num(r.reference), "" if math.isnan(r.p_value) else f"{r.p_value:.6g}", r.participants])
    return write_bytes_atomic(path, buf.getvalue().encode("utf-8"))
