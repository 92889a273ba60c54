"""The doctor's pure rules: which mount a database file is on (from sample lines of
``/proc/self/mountinfo``), which file systems make SQLite's locking unsafe, and the checks
made of a store's health and the live workers."""

from __future__ import annotations

from datetime import UTC, datetime

from noormme_queue.core.health import (
    SKEW_LIMIT,
    WAL_LIMIT,
    Mount,
    StoreHealth,
    StuckLease,
    assess,
    mount_of,
    network_filesystem,
    parse_mountinfo,
)
from noormme_queue.core.workers import WorkerInfo

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
25 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
40 22 0:35 / /srv/nfs rw,relatime shared:20 - nfs4 fileserver:/export/queue rw,vers=4.2
41 22 0:36 / /mnt/share rw,relatime shared:21 - cifs //nas/share rw,vers=3.1.1
42 22 0:37 / /mnt/smb rw,relatime shared:22 - smb3 //nas/other rw
43 22 0:38 / /mnt/host rw,relatime shared:23 - 9p hostshare rw,trans=virtio
44 22 0:39 / /home/ada/remote rw,nosuid,nodev,relatime shared:24 - fuse.sshfs ada@box:/data rw
45 40 8:2 / /srv/nfs/local rw,relatime shared:25 - ext4 /dev/sdb1 rw
46 22 0:40 / /mnt/with\\040space rw,relatime shared:26 - nfs srv:/a\\040b rw
47 22 0:41 / /data rw,relatime shared:27 - xfs /dev/sdc1 rw
48 22 0:42 / /data rw,relatime shared:28 - nfs srv:/over rw
this line is not a mount
"""


def test_the_longest_mount_point_holding_the_path_wins() -> None:
    assert mount_of("/var/lib/queue.db", MOUNTINFO) == Mount("/", "ext4", "/dev/sda1")
    assert mount_of("/srv/nfs/queue.db", MOUNTINFO) == Mount(
        "/srv/nfs", "nfs4", "fileserver:/export/queue"
    )
    # a local disk mounted inside the NFS mount
    assert mount_of("/srv/nfs/local/q.db", MOUNTINFO) == Mount(
        "/srv/nfs/local", "ext4", "/dev/sdb1"
    )
    # a prefix of a name is not a parent directory
    assert mount_of("/srv/nfsx/q.db", MOUNTINFO) == Mount("/", "ext4", "/dev/sda1")


def test_escaped_names_and_mounts_over_mounts() -> None:
    assert mount_of("/mnt/with space/q.db", MOUNTINFO) == Mount(
        "/mnt/with space", "nfs", "srv:/a b"
    )
    # /data was mounted twice: the later mount hides the earlier one
    assert mount_of("/data/q.db", MOUNTINFO) == Mount("/data", "nfs", "srv:/over")


def test_malformed_lines_are_skipped_and_nothing_is_none() -> None:
    assert len(parse_mountinfo(MOUNTINFO)) == 11
    assert mount_of("/q.db", "") is None


def test_network_file_systems_are_named_unsafe_local_ones_not() -> None:
    for path in ("/srv/nfs/q.db", "/mnt/share/q.db", "/mnt/smb/q.db", "/mnt/host/q.db",
                 "/home/ada/remote/q.db"):  # fmt: skip
        mount = mount_of(path, MOUNTINFO)
        assert mount is not None and network_filesystem(mount.fs_type), path
    for fs in ("ext4", "xfs", "btrfs", "zfs", "tmpfs", "overlay", "apfs"):
        assert not network_filesystem(fs), fs


def _health(**kw: object) -> StoreHealth:
    fields: dict[str, object] = {
        "backend": "sqlite",
        "description": "sqlite:///q.db",
        "schema_version": 5,
        "code_version": 5,
        "database_clock": 1000.0,
        "journal_mode": "wal",
        "synchronous": "NORMAL",
        "busy_timeout_ms": 5000,
        "wal_bytes": 4096,
        "mount": Mount("/", "ext4", "/dev/sda1"),
    }
    fields.update(kw)
    return StoreHealth(**fields)  # type: ignore[arg-type]


def _worker(wid: str, types: tuple[str, ...] = ("t",), skew: float = 0.0) -> WorkerInfo:
    at = datetime.fromtimestamp(1000, UTC)
    return WorkerInfo(wid, "box", 1, None, 5, types, (), at, at, at, skew)


def _problems(health: StoreHealth, workers: list[WorkerInfo]) -> list[str]:
    return [c.message for c in assess(health, workers, now=1000.0).problems]


def test_a_healthy_store_has_no_problem() -> None:
    report = assess(_health(pending_types=("t",)), [_worker("w")], now=1000.5)
    assert report.healthy and report.problems == ()
    assert [c.name for c in report.checks] == [
        "schema", "journal_mode", "synchronous", "busy_timeout", "wal", "filesystem",
        "leases", "queues", "handlers", "clocks",
    ]  # fmt: skip


def test_each_problem_is_one_line_that_says_what_to_do() -> None:
    health = _health(
        schema_version=4,
        journal_mode="delete",
        synchronous="OFF",
        busy_timeout_ms=0,
        wal_bytes=WAL_LIMIT * 2,
        mount=Mount("/srv/nfs", "nfs4", "fs:/q"),
        stuck=(StuckLease("job_1", "t", "w9", 900.0),),
        stuck_count=3,
        paused=(("emails", 7),),
        pending_types=("t", "orphan"),
    )
    problems = _problems(health, [_worker("w", skew=SKEW_LIMIT + 1)])
    assert len(problems) == 10, problems
    text = "\n".join(problems)
    assert "schema version 4, but this noormme-queue expects 5" in text
    assert "journal_mode is delete, not wal" in text
    assert "synchronous is OFF" in text and "busy_timeout is 0" in text
    assert "WAL is 128.0 MiB, over 64.0 MiB" in text
    assert "on nfs4 (fs:/q at /srv/nfs): SQLite's locking is not safe" in text
    assert "3 processing job(s) with a lease expired over 60s ago: job_1 (t) and 2 more" in text
    assert "queue emails is paused (7 pending job(s) wait)" in text
    assert "job type 'orphan' has pending jobs and no live worker handles it" in text
    assert "worker w's clock is 3.0s ahead of the database's" in text
    assert "this machine" not in text
    assert all("\n" not in p for p in problems)


def test_clock_skew_of_a_worker_and_of_this_machine() -> None:
    assert _problems(_health(), [_worker("a", skew=1.5), _worker("b", skew=-1.5)]) == []
    (behind,) = _problems(_health(), [_worker("a", skew=-(SKEW_LIMIT + 0.5))])
    assert behind.startswith("worker a's clock is 2.5s behind the database's")
    (here,) = [c.message for c in assess(_health(), [], now=1010.0).problems]
    assert here.startswith("this machine's clock is 10.0s ahead of the database's")


def test_postgresql_has_no_pragma_checks() -> None:
    report = assess(_health(backend="postgresql", journal_mode=None, mount=None), [], now=1000)
    assert report.healthy
    assert {c.name for c in report.checks} == {"schema", "leases", "queues", "handlers", "clocks"}


def test_a_type_handled_by_any_live_worker_is_fine() -> None:
    workers = [_worker("a", ("x",)), _worker("b", ("y",))]
    assert _problems(_health(pending_types=("x", "y")), workers) == []
    assert len(_problems(_health(pending_types=("x", "y", "z")), workers)) == 1
