"""``@qm.task``: functions as job types (src/noormme_queue/tasks/)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from noormme_queue import InvalidJob, InvalidPayload, QueueConfig, QueueManager, Task

from ..conftest import wait_status
from . import app


@pytest.fixture
async def qm(db_url: str) -> AsyncIterator[QueueManager]:
    """The tasks of tests/tasks/app.py, on a manager of this test's own database."""
    manager = QueueManager(QueueConfig(database_url=db_url, interval=30.0, cleanup_interval=0))
    for task in (app.send_welcome, app.add, app.invoice, app.untyped, app.with_defaults):
        manager.task(name=task.name)(task.func)
    yield manager
    await manager.stop(timeout=5)


def on(qm: QueueManager, task: Task[..., Any]) -> Task[..., Any]:
    """The test manager's task for the same function as ``task`` (untyped: the tests pass
    wrong arguments on purpose)."""
    bound: Task[..., Any] = getattr(qm.handlers[task.name].source, "task")  # noqa: B009
    return bound


def test_the_job_type_is_module_dot_qualname_unless_named() -> None:
    assert app.send_welcome.name == "tests.tasks.app.send_welcome"
    assert app.add.name == "tests.tasks.app.add"
    assert app.invoice.name == "typed-invoice"
    assert set(app.qm.handlers) >= {"tests.tasks.app.send_welcome", "typed-invoice"}


async def test_the_decorated_function_still_runs_inline() -> None:
    assert await app.send_welcome(3, lang="de") == "welcome 3 (de)"
    assert app.add(1, 2) == 3
    assert app.add.__name__ == "add" and app.add.__wrapped__ is app.add.func  # type: ignore[attr-defined]


async def test_sync_and_async_tasks_run_as_jobs(qm: QueueManager) -> None:
    await qm.start()
    welcome = await on(qm, app.send_welcome).enqueue(42, lang="fr")
    total = await on(qm, app.add).enqueue(5)
    assert welcome.startswith("job_") and total.startswith("job_")
    await wait_status(qm, welcome, "completed")
    await wait_status(qm, total, "completed")
    job = await qm.get_job(welcome)
    assert job is not None and job.type == "tests.tasks.app.send_welcome"
    assert job.payload == {"user_id": 42, "lang": "fr"}  # by name; defaults apply at run
    assert job.result == "welcome 42 (fr)"
    added = await qm.get_job(total)
    assert added is not None and added.payload == {"a": 5} and added.result == 15


def test_sync_enqueue_from_sync_code(db_url: str) -> None:
    manager = QueueManager(QueueConfig(database_url=db_url, interval=30.0, cleanup_interval=0))
    try:
        task = manager.task(name="adder")(app.add.func)
        job_id = task.sync.enqueue(1, b=2)
        job = manager.sync.get_job(job_id)
        assert job is not None and job.payload == {"a": 1, "b": 2} and job.type == "adder"
    finally:
        manager.sync.close()


async def test_decorator_options_are_each_jobs_defaults(qm: QueueManager) -> None:
    task = qm.task(
        name="defaults",
        priority=7,
        max_attempts=4,
        retry_policy=app.with_defaults.func.__globals__["RetryPolicy"](max_retries=3),
        timeout=12.5,
    )(app.with_defaults.func)
    job = await qm.get_job(await task.enqueue(1))
    assert job is not None
    assert (job.priority, job.max_attempts, job.timeout) == (7, 4, 12.5)
    assert job.retry_policy is not None and job.retry_policy.max_retries == 3


async def test_using_sets_add_job_options_for_one_call(qm: QueueManager) -> None:
    task = on(qm, app.add)
    before = datetime.now(UTC)
    later = await task.using(priority=9, delay=60.0, unique_key="once").enqueue(1)
    again = await task.using(unique_key="once").enqueue(2)
    plain = await task.enqueue(3)
    assert again == later  # the unique key held
    job = await qm.get_job(later)
    assert job is not None and job.priority == 9
    assert job.run_at >= before + timedelta(seconds=59)
    other = await qm.get_job(plain)
    assert other is not None and other.priority == 0  # using() changed only that call
    at = datetime(2030, 1, 1, tzinfo=UTC)
    chained = await task.using(priority=1).using(run_at=at, max_attempts=1).enqueue(4)
    job = await qm.get_job(chained)
    assert job is not None and (job.priority, job.run_at, job.max_attempts) == (1, at, 1)


@pytest.mark.parametrize(
    ("args", "kwargs", "field", "message"),
    [
        ((), {}, "payload.user_id", "missing a required argument: 'user_id'"),
        ((1,), {"langue": "fr"}, "payload.langue", "unexpected keyword argument 'langue'"),
        ((1, 2), {}, "payload", "too many positional arguments"),
        ((1,), {"user_id": 2}, "payload.user_id", "multiple values for argument 'user_id'"),
        (("x",), {}, "payload.user_id", "argument 'user_id': Input should be a valid integer"),
    ],
)
async def test_arguments_are_bound_against_the_signature_at_enqueue(
    qm: QueueManager, args: tuple[object, ...], kwargs: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message) as caught:
        await on(qm, app.send_welcome).enqueue(*args, **kwargs)
    assert caught.value.field == field
    assert "tests.tasks.app.send_welcome" in str(caught.value)
    assert (await qm.get_stats()).total == 0  # nothing written


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ((1, 2), "tuple"),
        ({1, 2}, "set"),
        ({1: "a"}, "dict"),
        (datetime(2024, 1, 1, tzinfo=UTC), "datetime"),
        ([float("nan")], "list"),
        (object(), "object"),
    ],
)
async def test_unhinted_arguments_must_round_trip_through_json(
    qm: QueueManager, value: object, kind: str
) -> None:
    with pytest.raises(InvalidPayload, match=f"would not come back the same from JSON \\({kind}"):
        await on(qm, app.untyped).enqueue(value)
    assert (await qm.get_stats()).total == 0


async def test_type_hints_are_validated_and_rebuilt_for_the_function(qm: QueueManager) -> None:
    await qm.start()
    customer = app.Customer(name="Ada", address=app.Address("1 Loop", "Paris"))
    due = datetime(2024, 5, 1, 12, tzinfo=UTC)
    job_id = await on(qm, app.invoice).enqueue(customer, due, app.Plan.PRO, 1.5, 2.5)
    await wait_status(qm, job_id, "completed")
    job = await qm.get_job(job_id)
    assert job is not None
    assert job.payload == {
        "customer": {"name": "Ada", "address": {"street": "1 Loop", "city": "Paris"}},
        "due": "2024-05-01T12:00:00Z",
        "plan": "pro",
        "lines": [1.5, 2.5],
    }
    assert job.result == {
        "to": "Ada, Paris",
        "due": "2024-05-31T12:00:00Z",
        "plan": "pro",
        "total": 4.0,
    }
    with pytest.raises(InvalidPayload, match="argument 'plan'") as caught:
        await on(qm, app.invoice).enqueue(customer, due, "gold")
    assert caught.value.field == "payload.plan"
    with pytest.raises(InvalidPayload, match=r"argument 'customer\.address'"):
        await on(qm, app.invoice).enqueue({"name": "Bo"}, due, app.Plan.FREE)


async def test_a_payload_from_elsewhere_is_checked_against_the_signature(qm: QueueManager) -> None:
    # add_job (and so the REST API) with a task's type: the same rules as enqueue.
    with pytest.raises(InvalidPayload, match="no parameter named 'user'") as caught:
        await qm.add_job(app.send_welcome.name, {"user": 1})
    assert caught.value.field == "payload.user"
    with pytest.raises(InvalidPayload, match="missing a required argument: 'user_id'"):
        await qm.add_job(app.send_welcome.name, {"lang": "fr"})
    with pytest.raises(InvalidPayload, match="an object of its arguments by name"):
        await qm.add_job(app.send_welcome.name, [1])
    with pytest.raises(InvalidPayload, match="argument 'due'"):
        customer = {"name": "Ada", "address": {"street": "1 Loop", "city": "Paris"}}
        await qm.add_job("typed-invoice", {"customer": customer, "due": "soon", "plan": "pro"})
    await qm.start()
    ok = await qm.add_job(app.send_welcome.name, {"user_id": 7})
    await wait_status(qm, ok, "completed")


def test_a_nested_function_needs_a_name(qm: QueueManager) -> None:
    def local(x: int) -> int:
        return x

    with pytest.raises(InvalidJob, match=r"defined inside another function.*give the task a name"):
        qm.task(local)
    with pytest.raises(InvalidJob, match="give the task a name") as caught:
        qm.task(lambda: None)
    assert caught.value.field == "name"
    named = qm.task(name="local-task")(local)  # with name= any function may be a task
    assert named.name == "local-task" and named(2) == 2


def test_two_functions_cannot_share_a_job_type(qm: QueueManager) -> None:
    def one() -> None: ...
    def two() -> None: ...

    qm.task(name="shared")(one)
    qm.task(name="shared")(one)  # the same function again (a module reload) is fine
    with pytest.raises(InvalidJob, match="'shared' already has a handler"):
        qm.task(name="shared")(two)
    qm.register_handler("plain", lambda job: None)
    with pytest.raises(InvalidJob, match="'plain' already has a handler"):
        qm.task(name="plain")(two)
    with pytest.raises(InvalidJob, match="unknown option 'prority'"):
        qm.task(name="x", prority=1)(two)  # type: ignore[call-overload]


def test_a_script_s_task_is_named_after_its_file(tmp_path: Path) -> None:
    script = tmp_path / "billing.py"
    script.write_text(
        textwrap.dedent("""
            from noormme_queue import QueueConfig, QueueManager
            qm = QueueManager(QueueConfig(database_url="sqlite:///unused.db"))
            @qm.task
            def charge(amount: int) -> int:
                return amount
            print(charge.name)
        """)
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    # `noormme-queue worker --app billing:qm` imports it as `billing`: the same type.
    assert out.stdout.strip() == "billing.charge"


def test_module_level_task_uses_get_queue_manager(tmp_path: Path) -> None:
    script = tmp_path / "shop_tasks.py"
    script.write_text(
        textwrap.dedent("""
            import asyncio, json
            from noormme_queue import get_queue_manager, task

            @task
            def ship(order: str) -> str:
                return f"shipped {order}"

            @task(name="refund", priority=3)
            async def refund(order: str) -> str:
                return f"refunded {order}"

            async def main() -> None:
                qm = get_queue_manager()
                async with qm:
                    ids = [await ship.enqueue("A1"), await refund.enqueue("B2")]
                    while True:
                        jobs = [await qm.get_job(i) for i in ids]
                        if all(j.status == "completed" for j in jobs):
                            break
                        await asyncio.sleep(0.01)
                print(json.dumps([[j.type, j.priority, j.result] for j in jobs]))

            asyncio.run(main())
        """)
    )
    env = {"QUEUE_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        ["shop_tasks.ship", 0, "shipped A1"],
        ["refund", 3, "refunded B2"],
    ]


async def test_queue_and_limits_go_to_the_handler_and_using_overrides(qm: QueueManager) -> None:
    def report(kind: str) -> str:
        return kind

    task = qm.task(name="report", queue="reports", concurrency_limit=2, rate_limit="30/minute")(
        report
    )
    await qm.start()  # a worker registers its types with their queue and limits
    first = await qm.get_job(await task.enqueue("daily"))
    assert first is not None and first.queue == "reports"  # the handler's queue
    tenant = await task.using(queue="urgent", limit_key="tenant:42").enqueue("weekly")
    job = await qm.get_job(tenant)
    assert job is not None and (job.queue, job.limit_key) == ("urgent", "tenant:42")
    (definition,) = [t for t in await qm.list_types() if t.type == "report"]
    assert definition.queue == "reports"
    assert definition.limits.concurrency == 2
    assert definition.limits.rate is not None and definition.limits.rate.count == 30
    await wait_status(qm, tenant, "completed")


async def test_a_task_that_calls_sys_exit_fails_and_the_worker_goes_on(qm: QueueManager) -> None:
    def leave() -> None:
        sys.exit(3)

    async def leave_async() -> None:
        raise SystemExit("bye")

    exits = qm.task(name="exit")(leave)
    exits_async = qm.task(name="exit-async")(leave_async)
    await qm.start()
    first = await exits.using(max_attempts=1).enqueue()
    second = await exits_async.using(max_attempts=1).enqueue()
    await wait_status(qm, first, "failed")
    await wait_status(qm, second, "failed")
    job = await qm.get_job(first)
    assert job is not None and job.history[-1].error_type == "builtins.SystemExit"
    after = await on(qm, app.add).enqueue(1)
    await wait_status(qm, after, "completed")  # the worker is still there
