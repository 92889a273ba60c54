"""``path("queue/", include("noormme_queue.contrib.django.urls"))``: the queue's REST API
and dashboard (``queue/dashboard``) in a Django project (see :mod:`.views`)."""

from __future__ import annotations

from django.urls import re_path

from .views import queue_app

app_name = "noormme_queue"
urlpatterns = [re_path(r"^(?P<path>.*)$", queue_app, name="api")]
