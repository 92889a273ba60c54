"""Load the user's ``module:attribute`` (a QueueManager, or a factory returning one)."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

from .core.errors import ConfigError
from .manager import QueueManager


def load_manager(spec: str) -> QueueManager:
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"--app must look like 'module:attribute', got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like uvicorn: the app is importable from here
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--app {spec}: cannot import {module_name!r}: {exc}") from exc
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"--app {spec}: {module_name!r} has no attribute {part!r}") from None
    if not isinstance(target, QueueManager) and callable(target):
        target = target()
        if inspect.isawaitable(target):
            raise ConfigError(f"--app {spec}: the factory must be a plain function, not async")
    if not isinstance(target, QueueManager):
        raise ConfigError(
            f"--app {spec} is a {type(target).__name__}, not a QueueManager or a factory of one"
        )
    return target
