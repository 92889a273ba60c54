"""Tasks for the tests: module-level functions on one manager, so a worker in another process
(``noormme-queue worker --app tests.tasks.app:qm``) finds them under the same job types."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from noormme_queue import QueueConfig, QueueManager, RetryPolicy

qm = QueueManager(QueueConfig.from_env(), builtins=False)


class Plan(enum.Enum):
    FREE = "free"
    PRO = "pro"


@dataclass
class Address:
    street: str
    city: str


class Customer(BaseModel):
    name: str
    address: Address


@qm.task
async def send_welcome(user_id: int, *, lang: str = "en") -> str:
    return f"welcome {user_id} ({lang})"


@qm.task
def add(a: int, b: int = 10) -> int:
    return a + b


@qm.task(name="typed-invoice")
def invoice(customer: Customer, due: datetime, plan: Plan, *lines: float) -> dict[str, object]:
    # Each argument arrives rebuilt as its type, not as the JSON it travelled as.
    assert isinstance(customer, Customer) and isinstance(customer.address, Address)
    assert isinstance(due, datetime) and isinstance(plan, Plan)
    return {
        "to": f"{customer.name}, {customer.address.city}",
        "due": due + timedelta(days=30),  # a datetime result is stored as ISO text
        "plan": plan,
        "total": sum(lines),
    }


@qm.task
def untyped(items, options=None):  # type: ignore[no-untyped-def]
    return {"items": items, "options": options}


@qm.task(
    priority=7,
    max_attempts=4,
    retry_policy=RetryPolicy(max_retries=3, base_delay=0.01, jitter=0.0),
    timeout=12.5,
)
def with_defaults(n: int) -> int:
    return n


@qm.task
def where_am_i() -> int:
    return os.getpid()
