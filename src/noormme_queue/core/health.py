"""The doctor's rules: what the store reported about itself, and the live workers, turned
into one line per check, each healthy or a problem. Pure functions, no I/O: the store reads
(``JobStore.health``, ``JobStore.workers``) and ``/proc/self/mountinfo`` come in as values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .workers import WorkerInfo

STUCK_MARGIN = 60.0
"""Seconds past its lease's end a ``processing`` job may wait for a rescuer (every process
running a worker rescues within a few seconds) before the doctor calls it stuck."""
SKEW_LIMIT = 2.0
"""Seconds a worker's clock may differ from the database's (and so from another worker's,
by up to twice this) before the doctor reports it: leases, retries and schedules are times
written by one machine and read by another."""
WAL_LIMIT = 64 * 1024 * 1024
"""Bytes of WAL above which checkpoints are not keeping up (the store cuts the WAL back to
this size when it restarts; a long-open reader holds it back)."""

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "ncpfs",
        "davfs",
        "vboxsf",
        "fuse.sshfs",
        "sshfs",
        "fuse.glusterfs",
        "fuse.ceph",
        "fuse.s3fs",
        "fuse.rclone",
        "fuse.davfs2",
        "fuse.grpcfuse",
        "fuse.gcsfuse",
    }
)
"""File systems where SQLite's locks (and WAL's shared memory) are not safe across
machines or processes: the database can be corrupted or two workers can run one job."""


@dataclass(frozen=True, slots=True)
class Mount:
    """The mount a path lives on, from one line of ``/proc/self/mountinfo``."""

    point: str
    fs_type: str
    source: str


def _unescape(text: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (``\\040``)."""
    out, i = [], 0
    while i < len(text):
        code = text[i + 1 : i + 4]
        if text[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    """Every well-formed line of ``/proc/<pid>/mountinfo``, in order (malformed ones are
    skipped)."""
    mounts = []
    for line in text.splitlines():
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if not sep or len(fields) < 5 or len(rest) < 2:
            continue
        mounts.append(Mount(_unescape(fields[4]), rest[0], _unescape(rest[1])))
    return mounts


def mount_of(path: str, mountinfo: str) -> Mount | None:
    """The mount an absolute, resolved ``path`` is on: the longest mount point that holds
    it (of equal ones, the last mounted, which hides the others)."""
    best: Mount | None = None
    for mount in parse_mountinfo(mountinfo):
        point = mount.point.rstrip("/") or "/"
        inside = path == point or path.startswith(point if point == "/" else point + "/")
        if inside and (best is None or len(point) >= len(best.point.rstrip("/") or "/")):
            best = mount
    return best


def network_filesystem(fs_type: str) -> bool:
    """Whether SQLite's locking is unsafe on a file system of this type."""
    return fs_type.lower() in NETWORK_FILESYSTEMS


@dataclass(frozen=True, slots=True)
class StuckLease:
    job_id: str
    type: str
    worker_id: str | None
    lease_until: float


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What a store reports about itself for the doctor (``JobStore.health``)."""

    backend: str
    """``sqlite`` or ``postgresql``."""
    description: str
    schema_version: int
    code_version: int
    database_clock: float
    """The database's own clock (Unix seconds) when read."""
    stuck: tuple[StuckLease, ...] = ()
    """``processing`` jobs whose lease ended before the asked time (a sample)."""
    stuck_count: int = 0
    paused: tuple[tuple[str, int], ...] = ()
    """Paused queues and their pending jobs."""
    pending_types: tuple[str, ...] = ()
    """Types with pending jobs (due or not)."""
    journal_mode: str | None = None
    """SQLite only, like the fields below."""
    synchronous: str | None = None
    busy_timeout_ms: int | None = None
    wal_bytes: int | None = None
    mount: Mount | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DoctorCheck:
    name: str
    ok: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "message": self.message}


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """Every check the doctor ran; :attr:`problems` are the failed ones."""

    checks: tuple[DoctorCheck, ...]

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def problems(self) -> tuple[DoctorCheck, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def to_dict(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "checks": [c.to_dict() for c in self.checks]}


SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def assess(health: StoreHealth, workers: Sequence[WorkerInfo], *, now: float) -> DoctorReport:
    """One :class:`DoctorCheck` per finding: a line each, healthy or not. ``now``: this machine's
    clock when ``health`` was read (compared with the database's too)."""
    checks = [_schema(health)]
    if health.backend == "sqlite":
        checks += _sqlite(health)
    checks += _stuck(health)
    checks += _paused(health)
    checks += _unhandled(health, workers)
    checks += _skew(workers)
    here = now - health.database_clock
    if abs(here) > SKEW_LIMIT:
        checks.append(
            DoctorCheck(
                "clocks",
                False,
                f"this machine's clock is {abs(here):.1f}s "
                f"{'ahead of' if here > 0 else 'behind'} the database's "
                f"(limit {SKEW_LIMIT:g}s): synchronise it (NTP)",
            )
        )
    return DoctorReport(tuple(checks))


def _schema(h: StoreHealth) -> DoctorCheck:
    if h.schema_version == h.code_version:
        return DoctorCheck("schema", True, f"schema version {h.schema_version} (current)")
    return DoctorCheck(
        "schema",
        False,
        f"schema version {h.schema_version}, but this noormme-queue expects "
        f"{h.code_version}: start a worker of this version to migrate, or upgrade",
    )


def _sqlite(h: StoreHealth) -> list[DoctorCheck]:
    checks = []
    mode = (h.journal_mode or "").lower()
    checks.append(
        DoctorCheck("journal_mode", True, "journal_mode wal")
        if mode == "wal"
        else DoctorCheck(
            "journal_mode",
            False,
            f"journal_mode is {mode or 'unknown'}, not wal: readers and the writer block "
            "each other; is the file on a file system without shared memory?",
        )
    )
    sync = (h.synchronous or "").upper()
    checks.append(
        DoctorCheck("synchronous", False, "synchronous is OFF: a crash can lose or corrupt jobs")
        if sync == "OFF"
        else DoctorCheck("synchronous", True, f"synchronous {sync or 'unknown'}")
    )
    busy = h.busy_timeout_ms or 0
    checks.append(
        DoctorCheck("busy_timeout", True, f"busy_timeout {busy} ms")
        if busy > 0
        else DoctorCheck(
            "busy_timeout",
            False,
            "busy_timeout is 0: a write meeting another process's lock fails at once",
        )
    )
    wal = h.wal_bytes or 0
    checks.append(
        DoctorCheck("wal", True, f"WAL {_size(wal)}")
        if wal <= WAL_LIMIT
        else DoctorCheck(
            "wal",
            False,
            f"WAL is {_size(wal)}, over {_size(WAL_LIMIT)}: checkpoints are not keeping up; "
            "is a long transaction or reader open on the database?",
        )
    )
    if h.mount is None:
        checks.append(DoctorCheck("filesystem", True, "file system unknown (no mountinfo)"))
    elif network_filesystem(h.mount.fs_type):
        checks.append(
            DoctorCheck(
                "filesystem",
                False,
                f"the database is on {h.mount.fs_type} ({h.mount.source} at "
                f"{h.mount.point}): SQLite's locking is not safe on network file systems; "
                "move it to a local disk, or use PostgreSQL",
            )
        )
    else:
        checks.append(DoctorCheck("filesystem", True, f"file system {h.mount.fs_type} (local)"))
    return checks


def _stuck(h: StoreHealth) -> list[DoctorCheck]:
    if not h.stuck_count:
        return [DoctorCheck("leases", True, "no stuck leases")]
    sample = ", ".join(f"{s.job_id} ({s.type})" for s in h.stuck)
    more = "" if h.stuck_count <= len(h.stuck) else f" and {h.stuck_count - len(h.stuck)} more"
    return [
        DoctorCheck(
            "leases",
            False,
            f"{h.stuck_count} processing job(s) with a lease expired over "
            f"{STUCK_MARGIN:g}s ago: {sample}{more}; no rescuer is running (start a worker)",
        )
    ]


def _paused(h: StoreHealth) -> list[DoctorCheck]:
    if not h.paused:
        return [DoctorCheck("queues", True, "no paused queue")]
    return [
        DoctorCheck(
            "queues",
            False,
            f"queue {name} is paused ({pending} pending job(s) wait): "
            f"noormme-queue queues resume {name}",
        )
        for name, pending in h.paused
    ]


def _unhandled(h: StoreHealth, workers: Sequence[WorkerInfo]) -> list[DoctorCheck]:
    handled = {t for w in workers for t in w.types}
    missing = [t for t in h.pending_types if t not in handled]
    if not missing:
        message = f"{len(workers)} live worker(s) handle every pending type"
        return [DoctorCheck("handlers", True, message)]
    return [
        DoctorCheck(
            "handlers",
            False,
            f"job type {t!r} has pending jobs and no live worker handles it "
            f"({len(workers)} live worker(s))",
        )
        for t in missing
    ]


def _skew(workers: Sequence[WorkerInfo]) -> list[DoctorCheck]:
    off = [w for w in workers if abs(w.clock_skew) > SKEW_LIMIT]
    if not workers:
        return [DoctorCheck("clocks", True, "no live worker to compare clocks with")]
    checks = [
        DoctorCheck(
            "clocks",
            False,
            f"worker {w.id}'s clock is {abs(w.clock_skew):.1f}s "
            f"{'ahead of' if w.clock_skew > 0 else 'behind'} the database's "
            f"(limit {SKEW_LIMIT:g}s): synchronise it (NTP)",
        )
        for w in off
    ]
    if not off:
        spread = max(w.clock_skew for w in workers) - min(w.clock_skew for w in workers)
        message = f"worker clocks within {spread:.1f}s of each other"
        checks.append(DoctorCheck("clocks", True, message))
    return checks


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"
