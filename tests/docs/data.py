"""Check the data blocks of README.md and docs/: each is parsed the way its language says.

``json``
    one JSON document, or one per line (JSON Lines). ``<!-- schema: A B -->`` names the
    models of ``noormme_queue.api.models`` the documents are (one per line; ``Ok[StatsOut]``
    for an envelope): a document without ``"..."`` must validate; one that elides with
    ``"..."`` (as a key, a value or a list item) must use only the model's field names.
``toml`` ``yaml`` ``ini``
    parsed (tomllib, PyYAML, configparser).
``sql``
    SQLite's ``EXPLAIN`` on a database holding the queue's schema; ``<!-- run: postgres -->``
    runs it on the test PostgreSQL server instead, in a transaction rolled back.
"""

from __future__ import annotations

import configparser
import importlib
import json
import re
import sqlite3
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .blocks import Block, DocError

ELIDED = "..."


def documents(block: Block) -> list[Any]:
    try:
        return [json.loads(block.code)]
    except json.JSONDecodeError as whole:
        lines = [line for line in block.code.splitlines() if line.strip()]
        if len(lines) > 1:
            try:
                return [json.loads(line) for line in lines]
            except json.JSONDecodeError:
                pass
        raise AssertionError(f"{block.where}: not JSON (nor JSON Lines): {whole}") from None


def model(name: str, where: str) -> type[BaseModel]:
    from noormme_queue.api import models

    found = re.fullmatch(r"(\w+)(?:\[(\w+)\])?", name)
    if found is None or not hasattr(models, found.group(1)):
        raise DocError(f"{where}: no model {name!r} in noormme_queue.api.models")
    outer = getattr(models, found.group(1))
    if found.group(2):
        if not hasattr(models, found.group(2)):
            raise DocError(f"{where}: no model {found.group(2)!r} in noormme_queue.api.models")
        outer = outer[getattr(models, found.group(2))]
    assert isinstance(outer, type) and issubclass(outer, BaseModel), name
    return outer


def elides(value: Any) -> bool:
    if value == ELIDED:
        return True
    if isinstance(value, dict):
        return ELIDED in value or any(elides(v) for v in value.values())
    if isinstance(value, list):
        return any(elides(v) for v in value)
    return False


def shape_errors(value: Any, annotation: Any, path: str) -> list[str]:
    """Keys of ``value`` that ``annotation`` (a model, list, dict, union) has no field for."""
    if value == ELIDED or annotation is Any:
        return []
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return []
        tries = [shape_errors(value, a, path) for a in options]
        return min(tries, key=len) if tries else []
    if origin is typing.Annotated:
        return shape_errors(value, typing.get_args(annotation)[0], path)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(value, dict):
            return [f"{path}: {value!r} where {annotation.__name__} wants an object"]
        fields = annotation.model_fields
        names = {n: n for n in fields} | {f.alias: n for n, f in fields.items() if f.alias}
        errors = []
        for key, item in value.items():
            if key == ELIDED:
                continue
            if key not in names:
                errors.append(f"{path}.{key}: not a field of {annotation.__name__}")
                continue
            errors += shape_errors(item, fields[names[key]].annotation, f"{path}.{key}")
        return errors
    if origin is list and isinstance(value, list):
        (item_type,) = typing.get_args(annotation) or (Any,)
        return [e for i, v in enumerate(value) for e in shape_errors(v, item_type, f"{path}[{i}]")]
    if origin is dict and isinstance(value, dict):
        _, value_type = typing.get_args(annotation) or (Any, Any)
        return [e for k, v in value.items() for e in shape_errors(v, value_type, f"{path}.{k}")]
    return []


def check_json(block: Block) -> None:
    docs = documents(block)
    schemas = " ".join(block.directive("schema")).split()
    if not schemas:
        return
    if len(schemas) != len(docs):
        raise DocError(f"{block.where}: {len(docs)} documents but {len(schemas)} schemas")
    for name, doc in zip(schemas, docs, strict=True):
        cls = model(name, block.where)
        if elides(doc):
            errors = shape_errors(doc, cls, name)
            assert not errors, f"{block.where}: {errors}"
        else:
            cls.model_validate(doc)


def queue_schema_database(tmp: Path) -> sqlite3.Connection:
    """A SQLite database with the queue's tables, made by the queue itself."""
    from noormme_queue import QueueConfig, QueueManager

    path = tmp / "schema.db"
    qm = QueueManager(QueueConfig(database_url=f"sqlite:///{path}"), builtins=False)
    try:
        qm.sync.get_stats()  # opens the store: runs the migrations
    finally:
        qm.sync.close()
    return sqlite3.connect(path)


def statements(code: str) -> list[str]:
    out, current = [], ""
    for line in code.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        raise AssertionError(f"an unfinished SQL statement: {current.strip()!r}")
    return out


def check_sql(block: Block, tmp: Path) -> None:
    setups = " ".join(block.directive("run")).split()
    if setups == ["postgres"]:
        from tests import pg

        with pg.admin() as connection:
            connection.autocommit = False
            try:
                for statement in statements(block.code):
                    connection.execute(statement.encode())
            finally:
                connection.rollback()
        return
    if setups:
        raise DocError(f"{block.where}: an sql block takes run: postgres or nothing")
    with queue_schema_database(tmp) as connection:
        for statement in statements(block.code):
            try:
                connection.execute(f"EXPLAIN {statement}")
            except sqlite3.Error as exc:
                raise AssertionError(f"{block.where}: {exc}: {statement}") from None


def check(block: Block, tmp: Path) -> None:
    """Parse ``block`` (a data block that did not opt out); raise AssertionError if it fails."""
    allowed = {"json": {"schema"}, "sql": {"run"}}.get(block.lang, set())
    extra = {k for k, _ in block.directives} - allowed
    if extra:
        raise DocError(f"{block.where}: a {block.lang} block takes no {sorted(extra)}")
    if block.lang == "json":
        check_json(block)
    elif block.lang == "toml":
        try:
            tomllib.loads(block.code)
        except tomllib.TOMLDecodeError as exc:
            raise AssertionError(f"{block.where}: not TOML: {exc}") from None
    elif block.lang in ("yaml", "yml"):
        try:  # PyYAML, when some tool brought it: no dependency is added for it
            yaml: Any = importlib.import_module("yaml")
        except ImportError:
            raise AssertionError(f"{block.where}: checking yaml needs PyYAML") from None
        try:
            list(yaml.safe_load_all(block.code))
        except yaml.YAMLError as exc:
            raise AssertionError(f"{block.where}: not YAML: {exc}") from None
    elif block.lang == "ini":
        try:
            configparser.ConfigParser().read_string(block.code)
        except configparser.Error as exc:
            raise AssertionError(f"{block.where}: not INI: {exc}") from None
    elif block.lang == "sql":
        check_sql(block, tmp)
    else:
        raise DocError(f"{block.where}: no check for {block.lang!r} blocks")
