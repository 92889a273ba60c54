from __future__ import annotations

import dataclasses

import pytest

from noormme_queue import ConfigError, QueueConfig


def test_defaults_follow_the_design_table() -> None:
    config = QueueConfig.from_env({})
    assert config.database_url == "sqlite:///./data/queue.db"
    assert config.concurrency == 5
    assert config.interval == 1.0
    assert config.batch_size == 10
    assert config.cleanup_days == 7
    assert config.cleanup_interval == 3600.0
    assert config.in_memory_concurrency == 3
    assert config.in_memory_interval == 0.1
    assert config.in_memory_timeout == 30.0
    assert config.lease_timeout == 30.0
    assert config.shutdown_timeout == 30.0
    assert config.max_payload_bytes == 1_048_576
    assert config.sqlite_synchronous == "NORMAL"
    assert config.api_token is None
    assert config.webhook_allow_private is False


def test_env_values_parse_with_millisecond_units() -> None:
    config = QueueConfig.from_env(
        {
            "QUEUE_DATABASE_URL": "sqlite:////tmp/x.db",
            "QUEUE_CONCURRENCY": "8",
            "QUEUE_INTERVAL": "250",
            "QUEUE_BATCH_SIZE": "20",
            "QUEUE_CLEANUP_DAYS": "0",
            "QUEUE_CLEANUP_INTERVAL": "0",
            "QUEUE_IN_MEMORY_INTERVAL": "0",
            "QUEUE_IN_MEMORY_TIMEOUT": "1500",
            "QUEUE_LEASE_TIMEOUT": "10000",
            "QUEUE_SHUTDOWN_TIMEOUT": "0",
            "QUEUE_MAX_PAYLOAD_BYTES": "1024",
            "QUEUE_SQLITE_SYNCHRONOUS": "full",
            "QUEUE_API_TOKEN": "s3cret",
            "QUEUE_WEBHOOK_ALLOW_PRIVATE": "true",
        }
    )
    assert config.database_url == "sqlite:////tmp/x.db"
    assert config.concurrency == 8
    assert config.interval == 0.25
    assert config.batch_size == 20
    assert config.cleanup_days == 0  # zero is a real value: remove every finished job
    assert config.cleanup_interval == 0  # zero turns the loop off
    assert config.in_memory_interval == 0
    assert config.in_memory_timeout == 1.5
    assert config.lease_timeout == 10.0
    assert config.shutdown_timeout == 0
    assert config.max_payload_bytes == 1024
    assert config.sqlite_synchronous == "FULL"
    assert config.api_token == "s3cret"
    assert config.webhook_allow_private is True


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("QUEUE_CONCURRENCY", "five"),
        ("QUEUE_CONCURRENCY", "0"),
        ("QUEUE_INTERVAL", "0"),
        ("QUEUE_INTERVAL", "-5"),
        ("QUEUE_BATCH_SIZE", "1.5"),
        ("QUEUE_CLEANUP_DAYS", "-1"),
        ("QUEUE_LEASE_TIMEOUT", "nan"),
        ("QUEUE_MAX_PAYLOAD_BYTES", "0"),
        ("QUEUE_SQLITE_SYNCHRONOUS", "OFF"),
        ("QUEUE_WEBHOOK_ALLOW_PRIVATE", "maybe"),
        ("QUEUE_IN_MEMORY_TIMEOUT", "soon"),
    ],
)
def test_a_bad_value_names_its_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        QueueConfig.from_env({var: value})


def test_config_is_immutable_and_validated_in_code_too() -> None:
    config = QueueConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.concurrency = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match="concurrency"):
        QueueConfig(concurrency=0)
    with pytest.raises(ConfigError, match="batch_size"):
        QueueConfig(batch_size=True)
