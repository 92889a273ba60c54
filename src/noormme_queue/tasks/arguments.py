"""A task's arguments and a job's payload, both ways.

At enqueue the arguments are bound against the function's signature (a missing or extra
argument is refused, naming it), checked against their type hints and turned into JSON; a
worker rebuilds them from the payload. The payload is an object keyed by parameter name
(``{"user_id": 42, "lang": "fr"}``), so it reads well in the dashboard and a REST client
can enqueue a task too: :meth:`Arguments.check` validates such a payload the same way.

Type hints that pydantic understands (dataclasses, models, datetimes, enums, ...) are
validated and rebuilt for the function; pydantic loads only for a function that has them.
An argument without a hint (or hinted ``Any``) must be JSON as it is: a value that would
come back different (a tuple, a set, a dict with int keys) is refused rather than changed.
"""

from __future__ import annotations

import inspect
import json
import threading
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..core.errors import InvalidJob, InvalidPayload
from ..core.job import JSON

_EMPTY = inspect.Parameter.empty
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
MAX_SHOWN = 80  # characters of a refused value shown in a message


class Arguments:
    """The signature of one task function, and its arguments' conversions."""

    def __init__(self, func: Callable[..., Any], label: str) -> None:
        self.func = func
        self.label = label  # the job type, named in every message
        self.signature = inspect.signature(func)
        self._adapters: dict[str, Any] | None = None  # name -> pydantic TypeAdapter | None
        self._lock = threading.Lock()

    # -- enqueue: arguments -> payload -----------------------------------------------------

    def to_payload(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, JSON]:
        """The payload for a call with ``args`` and ``kwargs``: what was given, by name
        (defaults are applied by the worker, when it calls the function)."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidPayload(
                f"{self.label}: {exc}", field=_field(self._culprit(args, kwargs))
            ) from None
        adapters = self.adapters()
        return {
            name: self._encode(name, value, adapters.get(name))
            for name, value in bound.arguments.items()
        }

    def _culprit(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
        """The argument a failed bind is about: an unknown keyword, one given twice, or the
        first required one missing (``None``: too many positional arguments)."""
        params = self.signature.parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        for name in kwargs:
            param = params.get(name)
            if param is None and not takes_any:
                return name
            if param is not None and param.kind is inspect.Parameter.POSITIONAL_ONLY:
                return name
        positional = [p.name for p in params.values() if p.kind in _POSITIONAL][: len(args)]
        for name in kwargs:
            if name in positional:
                return name
        for p in params.values():
            given = p.name in positional or p.name in kwargs
            if p.default is _EMPTY and p.kind not in _VARIADIC and not given:
                return p.name
        return None

    def _encode(self, name: str, value: Any, adapter: Any) -> JSON:
        if adapter is None:
            if not _survives_json(value):
                raise InvalidPayload(
                    f"{self.label}: argument {name!r} = {_show(value)} would not come back "
                    f"the same from JSON ({type(value).__name__}); pass JSON data (lists, "
                    "dicts with string keys, str, int, float, bool, None) or give the "
                    "parameter a type hint pydantic understands",
                    field=_field(name),
                )
            return value
        from pydantic import ValidationError
        from pydantic_core import PydanticSerializationError

        try:
            typed = adapter.validate_python(value)
            data = adapter.dump_python(typed, mode="json")
            back = adapter.validate_python(data)
        except ValidationError as exc:
            raise InvalidPayload(f"{self.label}: {_explain(name, exc)}", _field(name)) from None
        except PydanticSerializationError as exc:
            raise InvalidPayload(
                f"{self.label}: argument {name!r} cannot be turned into JSON: {exc}",
                field=_field(name),
            ) from None
        if back != typed:
            raise InvalidPayload(
                f"{self.label}: argument {name!r} = {_show(typed)} would come back from JSON "
                f"as {_show(back)}; use a type that survives JSON",
                field=_field(name),
            )
        return data

    # -- a payload from elsewhere (add_job, REST): the same rules ----------------------------

    def check(self, payload: JSON) -> None:
        """Refuse a payload the function could not be called with (``InvalidPayload``)."""
        self.to_call(payload)

    # -- run: payload -> call --------------------------------------------------------------

    def to_call(self, payload: JSON) -> tuple[list[Any], dict[str, Any]]:
        """The positional and keyword arguments the payload stands for."""
        if not isinstance(payload, dict):
            raise InvalidPayload(
                f"{self.label}: a task's payload is an object of its arguments by name, got "
                f"{type(payload).__name__}",
                field="payload",
            )
        params = self.signature.parameters
        unknown = [name for name in payload if name not in params]
        if unknown:
            raise InvalidPayload(
                f"{self.label}: no parameter named {unknown[0]!r} "
                f"(parameters: {', '.join(params) or 'none'})",
                field=_field(unknown[0]),
            )
        adapters = self.adapters()
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        # Positional-or-keyword arguments go by position when *args follow them.
        spread = any(
            p.kind is inspect.Parameter.VAR_POSITIONAL and payload.get(p.name)
            for p in params.values()
        )
        for p in params.values():
            if p.name not in payload:
                continue
            value = self._decode(p, payload[p.name], adapters.get(p.name))
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                args.extend(value)
            elif p.kind is inspect.Parameter.VAR_KEYWORD:
                kwargs.update(value)
            elif p.kind is inspect.Parameter.POSITIONAL_ONLY or (
                p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and spread
            ):
                args.append(value)
            else:
                kwargs[p.name] = value
        try:
            self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            missing = next(
                (
                    p.name
                    for p in params.values()
                    if p.default is _EMPTY and p.kind not in _VARIADIC and p.name not in payload
                ),
                None,
            )
            raise InvalidPayload(f"{self.label}: {exc}", field=_field(missing)) from None
        return args, kwargs

    def _decode(self, param: inspect.Parameter, value: JSON, adapter: Any) -> Any:
        if param.kind is inspect.Parameter.VAR_POSITIONAL and not isinstance(value, list):
            raise InvalidPayload(
                f"{self.label}: *{param.name} must be a list, got {type(value).__name__}",
                field=_field(param.name),
            )
        if param.kind is inspect.Parameter.VAR_KEYWORD and not isinstance(value, dict):
            raise InvalidPayload(
                f"{self.label}: **{param.name} must be an object, got {type(value).__name__}",
                field=_field(param.name),
            )
        if adapter is None:
            return value
        from pydantic import ValidationError

        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            raise InvalidPayload(
                f"{self.label}: {_explain(param.name, exc)}", _field(param.name)
            ) from None

    # -- type hints, resolved on first use ---------------------------------------------------

    def adapters(self) -> dict[str, Any]:
        """A pydantic ``TypeAdapter`` per hinted parameter (``*args: T`` as ``list[T]``,
        ``**kwargs: T`` as ``dict[str, T]``). Resolved on first use, so a hint may name a
        class defined after the function."""
        if self._adapters is not None:
            return self._adapters
        with self._lock:
            if self._adapters is None:
                self._adapters = self._build_adapters()
        return self._adapters

    def _build_adapters(self) -> dict[str, Any]:
        try:
            hints = typing.get_type_hints(self.func, include_extras=True)
        except Exception as exc:  # NameError for a name imported only for type checking
            raise InvalidJob(
                f"{self.label}: cannot read the type hints of {self.func.__qualname__}: "
                f"{type(exc).__name__}: {exc}",
                field="type",
            ) from None
        hints.pop("return", None)
        wanted = {name: hint for name, hint in hints.items() if hint not in (Any, object)}
        if not wanted:
            return {}
        from pydantic import TypeAdapter

        adapters: dict[str, Any] = {}
        for name, param in self.signature.parameters.items():
            hint = wanted.get(name)
            if hint is None:
                continue
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                hint = list[hint]  # type: ignore[valid-type]
            elif param.kind is inspect.Parameter.VAR_KEYWORD:
                hint = dict[str, hint]  # type: ignore[valid-type]
            try:
                adapters[name] = TypeAdapter(hint)
            except Exception as exc:  # a hint pydantic cannot validate
                raise InvalidJob(
                    f"{self.label}: parameter {name!r} has a type hint pydantic cannot check "
                    f"({hint!r}: {exc}); use JSON types or a type pydantic understands",
                    field=_field(name),
                ) from None
        return adapters


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def to_result(value: Any) -> JSON:
    """A task's return value as JSON: as it is when it already is, else through pydantic
    (dataclasses, models, datetimes, enums, sets ...)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if _survives_json(value):
        return value
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value)


def _survives_json(value: Any) -> bool:
    try:
        return bool(json.loads(json.dumps(value, allow_nan=False)) == value)
    except (TypeError, ValueError, RecursionError):
        return False


def _field(name: str | None) -> str:
    return "payload" if name is None else f"payload.{name}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _explain(name: str, exc: Any) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    place = f"{name}.{where}" if where else name
    return f"argument {place!r}: {first['msg']}{more}"
