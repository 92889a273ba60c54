"""Run by test_django_transactions: an order and its task in one ``transaction.atomic()``,
through Django's connection; killed before the block ends (``commit``: let it end).

python -m tests.frameworks.crash_order REF [commit]
"""

from __future__ import annotations

import sys


def main() -> None:
    import django

    django.setup()
    from django.db import transaction

    from shop.models import Order
    from shop.tasks import confirm_order

    ref, commit = sys.argv[1], sys.argv[2:] == ["commit"]
    with transaction.atomic():
        order = Order.objects.create(ref=ref, email="crash@example.com")
        result = confirm_order.enqueue(order.pk)
        print(result.id, flush=True)
        if not commit:
            sys.stdin.read()  # SIGKILLed here: the transaction never commits


if __name__ == "__main__":
    main()
