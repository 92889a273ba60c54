"""Views enqueue through ``qm.sync`` (plain blocking calls, no event loop needed in WSGI), or
through Django's Tasks framework (``task.enqueue``), in the view's own transaction."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from .models import Order
from .queue import get_queue
from .tasks import confirm_order, send_receipt


@require_POST
def signup(request: HttpRequest) -> JsonResponse:
    email = request.POST.get("email", "")
    qm = get_queue()
    # Both jobs are saved in one transaction; the worker process sends the mail.
    welcome, audit = qm.sync.add_jobs(
        [
            ("email", {"to": email, "subject": "Welcome!", "html": "<h1>Welcome aboard</h1>"}),
            ("audit-signup", {"email": email}, {"priority": -1}),
        ]
    )
    return JsonResponse({"welcome_job": welcome, "audit_job": audit}, status=202)


@require_GET
def job_status(request: HttpRequest, job_id: str) -> JsonResponse:
    job = get_queue().sync.get_job(job_id)
    if job is None:
        raise Http404("no such job")
    return JsonResponse({"status": job.status.value, "error": job.error})


@require_POST
def place_order(request: HttpRequest) -> JsonResponse:
    email = request.POST.get("email", "")
    with transaction.atomic():  # the order and its tasks commit together, or not at all
        order = Order.objects.create(ref=request.POST.get("ref", ""), email=email)
        confirm = confirm_order.enqueue(order.pk)
        receipt = send_receipt.enqueue(email, order.ref)
    return JsonResponse({"confirm": confirm.id, "receipt": receipt.id}, status=202)


@require_GET
def order_result(request: HttpRequest, result_id: str) -> JsonResponse:
    result = confirm_order.get_result(result_id)
    value = result.return_value if result.status == "SUCCESSFUL" else None
    return JsonResponse({"status": result.status, "value": value})
