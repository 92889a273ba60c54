"""The core works without FastAPI: nothing outside noormme_queue.api imports it."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_and_cli_does_not_import_fastapi_or_uvicorn() -> None:
    code = (
        "import sys, noormme_queue, noormme_queue.cli\n"
        "leaked = {'fastapi', 'uvicorn', 'starlette'} & set(sys.modules)\n"
        "assert not leaked, leaked\n"
        "import noormme_queue.api\n"
        "assert 'fastapi' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
