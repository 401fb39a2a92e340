"""The Starlette application."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from . import idempotency
from .auth import throttle
from .auth.credentials import CredentialCache
from .auth.devices import DeviceCookies
from .auth.middleware import Authenticate, CSRFProtect
from .auth.ratelimit import RateLimiter
from .auth.stream_guard import guard_streams
from .config import LOOPBACK_HOSTS, Settings
from .demo import seed_demo, seed_demo_staff
from .errors import ServiceError
from .events import Bus
from .formats import use_currency
from .headers import AnswerHeaders
from .limits import StreamSlots
from .live import FrameCaches
from .metrics import Metrics, MetricsMiddleware
from .printing.worker import print_worker
from .public_ids import PublicIds
from .public_orders import PortionBudget
from .routes import routes
from .routes.http import BodyLimit, on_http_error, on_service_error, on_unexpected_error
from .services.dispatch import print_unseen
from .services.releases import release_worker
from .services.sessions import purge_sessions
from .services.sight import printed_jobs, sight_worker
from .services.staff import app_secret
from .store import Store
from .web import Sessions

log = logging.getLogger("forkflow")

PURGE_EVERY_SECONDS = 3600


async def _purge_expired(store: Store) -> None:
    """Idempotency keys are purged once they are older than they are kept (forkflow/idempotency.py);
    so are sign-in attempts older than a day (or than the sign-in window, if that is longer), and
    sessions that ended over a day ago."""
    keep_attempts = max(timedelta(days=1), timedelta(seconds=store.settings.sign_in_window_seconds))
    while True:
        try:
            removed = await store.write(idempotency.purge)
            if removed:
                log.info("purged %d idempotency keys older than %d hours", removed, idempotency.KEPT_HOURS)
            removed = await store.write(lambda tx: throttle.purge(tx, keep_attempts))
            if removed:
                log.info("purged %d sign-in attempts older than %s", removed, keep_attempts)
            removed = await purge_sessions(store)
            if removed:
                log.info("purged %d sessions that ended over a day ago", removed)
        except ServiceError:
            log.warning("could not purge idempotency keys, sign-in attempts or old sessions; will try again")
        await asyncio.sleep(PURGE_EVERY_SECONDS)


async def _close_bus_on_shutdown(shutting_down: anyio.Event, bus: Bus) -> None:
    await shutting_down.wait()
    log.info("shutting down: ending %d open event streams", bus.subscriber_count)
    bus.close()


def allowed_hosts(settings: Settings) -> list[str]:
    """The Host names answered: the loopback names (health probes, the demo, the tests), and the
    site's own names from FORKFLOW_ALLOWED_HOSTS ("*" for any). Redirects are built from the Host
    header, so a forged one must be refused rather than sent back in a Location."""
    names = [*LOOPBACK_HOSTS, *settings.allowed_hosts]
    return [f"[{name}]" if ":" in name and not name.startswith("[") else name for name in names]


def create_app(settings: Settings | None = None, demo: bool = False) -> Starlette:
    settings = settings or Settings.from_env()
    use_currency(settings.currency)  # every screen, chit and receipt of this process (formats.py)
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        bus = Bus(settings.subscriber_queue_size)
        store = Store(settings, bus)
        await store.open()
        if demo:
            await seed_demo(store)
            passwords = await seed_demo_staff(store)
            if passwords:
                lines = "\n".join(f"  {name:8} {password}" for name, password in passwords.items())
                print(f"Demo staff accounts (shown this once; name = role):\n{lines}", flush=True)
        app.state.store = store
        # Checked sessions and tokens; every `auth` event (any process) empties it.
        app.state.credentials = CredentialCache()
        bus.auth_listeners.append(app.state.credentials.clear)
        metrics.attach(store)
        app.state.session_secret = settings.secret_key or await app_secret(store, "session")
        app.state.public_ids = PublicIds(app.state.session_secret)  # event ids as the public sees them
        app.state.public_order_limiter = RateLimiter(settings.public_orders_per_minute, 60)
        app.state.device_cookies = DeviceCookies(
            app.state.session_secret, settings.device_cookie_days, settings.secure_cookies
        )
        app.state.stream_slots = StreamSlots(settings.max_streams, settings.max_streams_per_client)
        app.state.frame_caches = FrameCaches()  # each page's encoded frames, shared by its streams
        app.state.public_portions = PortionBudget(settings.public_portions_per_hour)
        # Everything made at start-up lives as long as the server: keep it out of the collector's
        # sweeps, whose pauses would otherwise land on whichever requests are in flight.
        gc.collect()
        gc.freeze()
        # sse-starlette sets this when uvicorn starts to shut down; closing the bus then lets
        # every open stream finish cleanly instead of holding the server open.
        app.state.shutting_down = anyio.Event()
        closer = asyncio.create_task(_close_bus_on_shutdown(app.state.shutting_down, bus))
        purger = asyncio.create_task(_purge_expired(store))
        guard = asyncio.create_task(guard_streams(store))
        releaser = asyncio.create_task(release_worker(store))  # scheduled orders, to the kitchen on time
        # Proof of sight: the alarm for tickets no screen or printer of their station has seen.
        # Its fallback is the chit on paper; a printed chit counts as the station's sight of it.
        watcher = asyncio.create_task(sight_worker(store, on_unseen=print_unseen))
        print_stop = asyncio.Event()
        # Chits and receipts, exactly once.
        printer = asyncio.create_task(print_worker(store, print_stop, on_printed=printed_jobs))
        try:
            yield
        finally:
            # The print worker first: it finishes and records the sends in flight (bounded by the
            # printer timeout), so that a graceful stop never prints a chit twice.
            print_stop.set()
            await asyncio.wait({printer}, timeout=settings.printer_timeout_seconds + 3)
            printer.cancel()
            background = (watcher, releaser, guard, purger, closer)
            for task in background:
                task.cancel()
            await asyncio.wait(background, timeout=5)  # ended before the bus and the store they use
            bus.close()
            metrics.detach()
            await store.close()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            # Outermost: counts and times every answer, including the inner middleware's refusals.
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(AnswerHeaders),  # security headers and no-store (also on 500s: see on_unexpected_error)
            # Before anything reads the Host header (redirects, the session cookie): 400 otherwise.
            Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings), www_redirect=False),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout_seconds),
            Middleware(Sessions, https_only=settings.secure_cookies),
            Middleware(CSRFProtect),
            Middleware(Authenticate),
        ],
        exception_handlers={
            ServiceError: on_service_error,
            HTTPException: on_http_error,
            Exception: on_unexpected_error,
        },
    )
    app.state.metrics = metrics
    return app


def app_from_env() -> Starlette:
    """The app as `uvicorn --factory` makes it in each worker process: settings from the
    environment (`forkflow serve --workers N` passes its options through FORKFLOW_* variables)."""
    return create_app(Settings.from_env())
