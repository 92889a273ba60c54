"""noormme-queue inside a Flask app: views enqueue through ``qm.sync`` (no event loop needed).

Jobs run in a separate worker process (``noormme-queue worker --app examples.flask_app:qm``),
or, for a small deployment, in a background thread of this process (``run_worker=True``).

Run it:  flask --app examples.flask_app run
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, abort, request

from noormme_queue import QueueConfig, QueueManager


@dataclass
class Line:
    price: int


def render_invoice(order: str, lines: list[Line]) -> dict[str, object]:
    # Sync tasks run in a thread pool, so blocking code (a PDF library, say) is fine. The
    # arguments arrive rebuilt from the job's payload: `lines` is a list of Line.
    return {"invoice": order, "total": sum(line.price for line in lines)}


def build_queue(config: QueueConfig | None = None) -> QueueManager:
    qm = QueueManager(config or QueueConfig.from_env())
    qm.task(name="invoice")(render_invoice)  # the function as the "invoice" job type
    return qm


def create_app(qm: QueueManager, *, run_worker: bool = False) -> Flask:
    app = Flask(__name__)
    if run_worker:
        qm.sync.start()  # the worker runs on a background thread's event loop

    @app.post("/orders/<order_id>/invoice")
    def request_invoice(order_id: str) -> tuple[dict[str, str], int]:
        lines = (request.get_json(silent=True) or {}).get("lines", [])
        # A task's payload is its arguments by name, checked against its signature here.
        job_id = qm.sync.add_job(
            "invoice", {"order": order_id, "lines": lines}, unique_key=f"invoice:{order_id}"
        )
        return {"job_id": job_id}, 202

    @app.get("/jobs/<job_id>")
    def job_status(job_id: str) -> dict[str, object]:
        job = qm.sync.get_job(job_id)
        if job is None:
            abort(404)
        return {"status": job.status.value, "result": job.result}

    return app


qm = build_queue()
app = create_app(qm)
