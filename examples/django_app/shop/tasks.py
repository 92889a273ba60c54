"""The shop's tasks: plain functions under Django's ``@task``, run by ``noormme_worker``."""

from __future__ import annotations

try:  # Django >= 6
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # the django-tasks backport
    from django_tasks import task

from .models import Order


@task(priority=10)
def confirm_order(order_id: int) -> str:
    # The order is there: the job was committed with it, in the same transaction.
    order = Order.objects.get(pk=order_id)
    order.confirmed = True
    order.save(update_fields=["confirmed"])
    return f"order {order.ref} confirmed"


@task(queue_name="emails")
async def send_receipt(email: str, ref: str) -> str:
    return f"receipt for {ref} sent to {email}"
