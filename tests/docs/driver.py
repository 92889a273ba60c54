"""Run one program of documentation blocks: ``python driver.py program.json`` (in its workdir).

Each chunk is compiled with the page as its file name and its own line numbers, so a
traceback points at the Markdown line. A chunk with top-level ``await`` runs on one event
loop shared by all chunks of the program (a setup's manager started in the prelude lives on
it); any other chunk runs as plain module code, so a block's own ``asyncio.run(main())``
works. Any exception ends the process with status 1.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import sys
from pathlib import Path
from typing import Any


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    for entry in reversed(spec["sys_path"]):
        sys.path.insert(0, entry)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    with asyncio.Runner() as runner:
        for chunk in spec["chunks"]:
            source = "\n" * (chunk["line"] - 1) + chunk["source"]
            code = compile(
                source,
                chunk["filename"],
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True,
            )
            if code.co_flags & inspect.CO_COROUTINE:
                runner.run(eval(code, namespace))
            else:
                exec(code, namespace)


if __name__ == "__main__":
    main(sys.argv[1])
