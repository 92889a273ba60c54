"""Views enqueue through ``qm.sync``: plain blocking calls, no event loop needed in WSGI."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from .queue import get_queue


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
