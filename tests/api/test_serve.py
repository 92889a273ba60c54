"""``serve`` refuses to expose the API beyond loopback without a token."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from noormme_queue import ConfigError
from noormme_queue.api.server import bind, check_exposure, is_loopback
from noormme_queue.cli import cli

from ..waiting import wait_for


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_needs_no_token(host: str) -> None:
    assert is_loopback(host)
    check_exposure(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "queue.example"])
def test_any_other_address_needs_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigError, match="QUEUE_API_TOKEN"):
        check_exposure(host, None)
    with pytest.raises(ConfigError):
        check_exposure(host, "")
    check_exposure(host, "a-token")


def test_the_cli_refuses_before_listening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUE_API_TOKEN", raising=False)
    result = CliRunner().invoke(
        cli,
        ["--database-url", f"sqlite:///{tmp_path / 'q.db'}", "serve", "--host", "0.0.0.0"],
    )
    assert result.exit_code == 1
    assert "refusing to serve on 0.0.0.0 without an API token" in result.output
    assert not (tmp_path / "q.db").exists()  # nothing was started


def test_a_port_in_use_is_a_clear_error() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port)
    finally:
        taken.close()


def test_without_a_token_only_loopback_host_names_are_answered(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "QUEUE_API_TOKEN"}
    env["QUEUE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'q.db'}"
    server = subprocess.Popen(
        [sys.executable, "-m", "noormme_queue", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/queue/health"
        wait_for(lambda: _answers(url), 30, "serve to start", poll=0.05)
        ok = httpx.get(url, timeout=1)
        assert ok.status_code == 200
        # A page on another origin whose name was rebound to 127.0.0.1 sends its own Host.
        rebound = httpx.get(url, headers={"Host": f"attacker.example:{port}"}, timeout=5)
        assert rebound.status_code == 400
        # A form posted from another site carries that site's origin: refused.
        cleanup = f"http://127.0.0.1:{port}/api/queue/cleanup"
        forged = httpx.post(cleanup, headers={"Origin": "https://attacker.example"}, timeout=5)
        assert forged.status_code == 403
        own = httpx.post(
            cleanup, headers={"Origin": f"http://127.0.0.1:{port}"}, json={}, timeout=5
        )
        assert own.status_code == 200
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def _answers(url: str) -> bool:
    import httpx

    try:
        httpx.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True
