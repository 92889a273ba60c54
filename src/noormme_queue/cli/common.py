"""What every command shares: the ``--database-url`` and ``--app`` options (accepted before
or after the command name), the manager they select, and one-line failures."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from ..core.config import DEFAULT_DATABASE_URL, QueueConfig
from ..core.errors import QueueError
from ..manager import QueueManager

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# Where an option's value came from, most specific first: typed after the command name beats
# typed before it (they arrive in that order), a typed value beats its QUEUE_* variable.
_RANK = {ParameterSource.COMMANDLINE: 0, ParameterSource.ENVIRONMENT: 1}


def fail(message: str) -> NoReturn:
    """Print ``error: message`` as one line on stderr (never wrapped) and exit 1."""
    click.secho(f"error: {' '.join(message.split())}", fg="red", err=True)
    sys.exit(1)


def typed(ctx: click.Context, name: str) -> bool:
    """Whether the option was given on the command line (not read from its QUEUE_* variable)."""
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


@dataclass
class Shared:
    """The shared options, each with the rank of where its value came from."""

    values: dict[str, tuple[Any, int]] = field(default_factory=dict)

    def offer(self, name: str, value: Any, source: ParameterSource | None) -> None:
        rank = _RANK.get(source, 2) if source is not None else 2
        if name not in self.values or rank <= self.values[name][1]:
            self.values[name] = (value, rank)

    def get(self, name: str) -> Any:
        return self.values.get(name, (None, 2))[0]

    def typed(self, name: str) -> bool:
        return self.values.get(name, (None, 2))[1] == 0

    @property
    def database_url(self) -> str | None:
        url: str | None = self.get("database_url")
        return url

    @property
    def app(self) -> str | None:
        app: str | None = self.get("app")
        return app

    def config(self, **overrides: Any) -> QueueConfig:
        """QUEUE_* variables, then --database-url and the given options (None: not given)."""
        try:
            config = QueueConfig.from_env()
        except QueueError as exc:
            fail(str(exc))
        values = {k: v for k, v in overrides.items() if v is not None}
        if self.database_url:
            values["database_url"] = self.database_url
        return replace(config, **values) if values else config

    def manager(
        self, *, builtins: bool = False, fixed_by_app: tuple[str, ...] = (), **overrides: Any
    ) -> QueueManager:
        """The --app manager (its database, config and handlers), or one built from QUEUE_*
        variables and the options (``overrides``). Management commands need no built-in
        handlers; a typed option in ``fixed_by_app`` (or --database-url) cannot change an
        --app manager."""
        try:
            if self.app is None:
                return QueueManager(self.config(**overrides), builtins=builtins)
            from ..apploader import load_manager

            qm = load_manager(self.app)
        except QueueError as exc:
            fail(str(exc))
        fixed = (*fixed_by_app, *(["--database-url"] if self.typed("database_url") else []))
        if fixed:
            fail(
                f"{' and '.join(fixed)} cannot change an --app manager; set "
                f"{'them' if len(fixed) > 1 else 'it'} in its QueueConfig or through QUEUE_* "
                "variables"
            )
        return qm

    def database_origin(self) -> str:
        if self.app is not None:
            return f"the database of --app {self.app}"
        if self.typed("database_url"):
            return "from --database-url"
        if self.database_url:
            return "from QUEUE_DATABASE_URL"
        return f"the default, {DEFAULT_DATABASE_URL}"

    def existing(self, qm: QueueManager) -> QueueManager:
        """``qm`` if its database exists: a command that reads or deletes never creates one."""
        from ..store.sqlite.store import SQLiteStore

        if isinstance(qm.store, SQLiteStore) and not qm.store.path.exists():
            fail(
                f"no queue database at {qm.store.path.absolute()} ({self.database_origin()}); "
                "point --database-url or QUEUE_DATABASE_URL at your queue's database "
                "(a worker, serve or the first enqueue creates it)"
            )
        return qm


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    assert param.name is not None
    ctx.ensure_object(Shared).offer(param.name, value, ctx.get_parameter_source(param.name))
    return value


_SHARED_OPTIONS = (
    click.option(
        "--database-url",
        envvar="QUEUE_DATABASE_URL",
        show_envvar=True,
        default=None,
        expose_value=False,
        callback=_remember,
        help=f"sqlite:///path/to/queue.db or postgresql://... [default: {DEFAULT_DATABASE_URL}]",
    ),
    click.option(
        "--app",
        envvar="QUEUE_APP",
        show_envvar=True,
        default=None,
        expose_value=False,
        callback=_remember,
        help="module:attribute of your QueueManager (or a function returning one): "
        "the command uses its database, config and handlers",
    ),
)


def shared_options(command: F) -> F:
    """Add --database-url and --app, so they work before or after the command name."""
    for option in reversed(_SHARED_OPTIONS):
        command = option(command)
    return command


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run one async command; a QueueError becomes a one-line message and exit code 1."""

    async def main() -> T:
        return await work()

    try:
        return asyncio.run(main())
    except QueueError as exc:
        fail(str(exc))


def query(shared: Shared, work: Callable[[QueueManager], Awaitable[T]]) -> T:
    """Run ``work`` against the selected manager's existing database, then close it."""
    return run_on(shared.existing(shared.manager()), work)


def run_on(qm: QueueManager, work: Callable[[QueueManager], Awaitable[T]]) -> T:
    """Run ``work`` with ``qm``, then close it."""

    async def call() -> T:
        try:
            return await work(qm)
        finally:
            await qm.stop()

    return run(call)
