# ForkFlow in a container: one process on the SQLite file in /data by default, or on PostgreSQL
# with FORKFLOW_DATABASE_URL=postgresql+asyncpg://... and --workers N (see compose.yaml).
# Two stages: the first builds ForkFlow's wheel (templates and static files inside the package,
# see pyproject.toml), the second installs that wheel and nothing else from the source tree.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY forkflow ./forkflow
COPY templates ./templates
COPY static ./static
RUN pip wheel --no-deps --wheel-dir /dist .


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The wheel and its dependencies (asyncpg, the PostgreSQL driver, among them).
COPY --from=build /dist /tmp/dist
RUN pip install /tmp/dist/forkflow-*.whl && rm -rf /tmp/dist

# Never run as root; the database (and its -wal/-shm files) live in the /data volume.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin forkflow \
    && mkdir -p /data && chown forkflow:forkflow /data
USER forkflow
WORKDIR /data
VOLUME ["/data"]
ENV FORKFLOW_DATABASE_URL=sqlite:////data/forkflow.db

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]

CMD ["forkflow", "serve", "--host", "0.0.0.0", "--port", "8000"]
