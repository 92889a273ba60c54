"""noormme-queue inside a FastAPI app: the lifespan runs the worker, a route enqueues a task,
and the queue's REST API is mounted at /api/queue (dashboard at /api/queue/dashboard).

Run it:  uvicorn examples.fastapi_app:app
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import BaseModel

from noormme_queue import QueueConfig, QueueManager
from noormme_queue.api import create_router


class Signup(BaseModel):
    email: str
    name: str


def build_app(config: QueueConfig | None = None) -> FastAPI:
    qm = QueueManager(config or QueueConfig.from_env())

    # A task defined inside this factory needs name=: a worker elsewhere could not import it
    # by module and function name.
    @qm.task(name="welcome-pack")
    async def build_welcome_pack(email: str, name: str) -> dict[str, str]:
        # Slow work that must not hold up the request: render, upload, call a partner API...
        return {"pack": f"welcome-{name.lower()}.zip"}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await qm.start()  # worker, lease keeper and cleanup run on this app's event loop
        try:
            yield
        finally:
            await qm.stop()  # in-flight jobs finish first (QUEUE_SHUTDOWN_TIMEOUT)

    app = FastAPI(lifespan=lifespan)
    app.state.queue = qm
    # Register handlers before creating the router: OpenAPI lists their payload schemas.
    app.include_router(create_router(qm), prefix="/api/queue")

    @app.post("/signup", status_code=202)
    async def signup(body: Signup) -> dict[str, str]:
        job_id = await build_welcome_pack.enqueue(body.email, body.name)  # arguments checked
        await qm.add_job(
            "email",
            {"to": body.email, "subject": f"Welcome, {body.name}!", "html": "<h1>Welcome!</h1>"},
        )
        return {"job_id": job_id}

    return app


app = build_app()
