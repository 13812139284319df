"""The application factory: everything the web app needs is built here, from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from opendpo import __version__
from opendpo.mail.sender import Mailer
from opendpo.security.api_keys import KeyCache
from opendpo.security.keyring import load_keyring
from opendpo.security.links import LinkSigner
from opendpo.security.rate_limits import RateLimiter
from opendpo.settings import Settings
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.web import background, docs, gpc, health
from opendpo.web.access_log import AccessLogMiddleware
from opendpo.web.api import api_router
from opendpo.web.api import opendsr as opendsr_api
from opendpo.web.assets import STATIC_DIR
from opendpo.web.errors import install_error_handlers
from opendpo.web.headers import SecurityHeadersMiddleware
from opendpo.web.pages import (
    account,
    audit_log,
    consent_console,
    consent_figures,
    console,
    downloads,
    outbox,
    people,
    preferences,
    privacy,
    privacy_centre,
    privacy_centre_status,
    records,
    request_actions,
    request_dry_run,
    request_execution,
    request_figures,
    request_new,
    request_page,
    request_queue,
    staff_admin,
    subscribe,
    unsubscribe,
)
from opendpo.web.request_runner import RequestRunner
from opendpo.web.state import WebState
from opendpo.web.templating import make_templates

DESCRIPTION = (
    "Read-only views of the privacy policy in force: purposes, recipients and systems. "
    'Every error has the body `{"error": {"status", "code", "message", "errors"}}`.'
)


def create_app(settings: Settings) -> FastAPI:
    """The app for these settings; KeyProblem if the encryption keys cannot be loaded."""
    keyring = load_keyring(settings)
    # Keys from the environment change only with a restart; a key file is followed live.
    key_file = settings.key_file if settings.encryption_keys is None else None
    engine = make_engine(
        settings.database_url,
        keyring=keyring,
        key_file=key_file,
        pool_size=settings.database_pool_size,
    )
    state = WebState(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        templates=make_templates(),
        keyring=keyring,
        rate_limiter=RateLimiter(settings.redis_url),
        links=LinkSigner(settings.secret_key.get_secret_value()),
        mailer=Mailer(settings),
        key_cache=KeyCache(settings.api_key_cache_seconds),
        read_engine=engine.execution_options(isolation_level="AUTOCOMMIT"),
        runner=RequestRunner(settings=settings, engine=engine, keyring=keyring),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # OpenDSR callbacks and staff reminders, delivered by every process (each safely).
        runner = background.Runner(background.standard_jobs(state))
        if settings.background_jobs:
            runner.start()
        try:
            # Request steps: queued from here, and worked here too when the worker is embedded.
            await run_in_threadpool(state.runner.open)
            yield
        finally:
            await runner.stop()
            # Waits for steps being worked to finish: they hold connections to the store.
            await run_in_threadpool(state.runner.close)
            engine.dispose()

    app = FastAPI(
        title="OpenDPO",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=docs.OPENAPI_URL,
        docs_url=None,  # served from vendored assets by opendpo.web.docs
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.opendpo = state
    install_error_handlers(app)
    # Added last runs first: the access log sees the final status, headers included.
    app.add_middleware(gpc.GpcMiddleware)  # request.state.gpc: the browser's Sec-GPC: 1
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    app.add_middleware(AccessLogMiddleware)

    app.include_router(api_router())  # first: the decision point is the hot path
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(subscribe.router)  # the opt-in form
    app.include_router(preferences.router)  # the preference centre
    app.include_router(gpc.router)  # /.well-known/gpc.json
    app.include_router(privacy.router)
    app.include_router(privacy_centre.router)  # rights requests: ask, verify
    app.include_router(privacy_centre_status.router)  # follow, withdraw, find links
    app.include_router(downloads.router)  # access and portability packages, by signed link
    app.include_router(unsubscribe.router)  # RFC 8058 one-click, from marketing emails
    app.include_router(account.router)  # sign-in, sign-out and one's own account
    app.include_router(console.router)
    app.include_router(records.router)
    app.include_router(people.router)
    app.include_router(consent_console.router)  # a person's consent, recorded by staff
    app.include_router(consent_figures.router)
    app.include_router(audit_log.router)
    app.include_router(request_queue.router)  # the staff queue of rights requests
    app.include_router(request_figures.router)  # before request_page: /requests/figures
    app.include_router(request_new.router)  # before request_page: /requests/new
    app.include_router(request_page.router)
    app.include_router(request_execution.router)  # before request_actions: /run, /retry
    app.include_router(request_dry_run.router)  # before request_actions: /dry-run
    app.include_router(request_actions.router)
    app.include_router(outbox.router)  # emails written to a folder when no server is set
    app.include_router(staff_admin.router)
    app.include_router(opendsr_api.router)  # /opendsr/v1: the spec's bodies, signed
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
