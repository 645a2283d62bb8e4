# syntax=docker/dockerfile:1
# gateway image: `docker build -t gateway .`. The same image runs the gateway (default) and the simulator
# (`docker run gateway sim --host 0.0.0.0 --port 8090`) and the admin CLI (`docker run gateway budget list`).

ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: resolve and build every wheel once, so the runtime stage needs neither pip's cache nor compilers.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Metadata first: the dependency layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip wheel --wheel-dir /wheels .

# ---- runtime
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# A fixed numeric uid so Kubernetes' runAsNonRoot can verify it without resolving names.
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /var/lib/gateway --no-create-home \
        --shell /usr/sbin/nologin gateway

# The wheels are bind-mounted from the builder, never copied, so they add no layer. Versions are pinned by
# what the builder resolved (--no-index: nothing else can be installed), hence no version pins here.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels gateway

COPY policies/default.yaml /etc/gateway/policy.yaml
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/gateway-entrypoint

# Everything the gateway writes lives under /var/lib/gateway, so the root filesystem can be read-only
# (Kubernetes mounts emptyDirs here; compose a volume for the spool).
RUN mkdir -p /var/lib/gateway/spool /var/lib/gateway/ledger /var/lib/gateway/metrics \
 && chown -R gateway:gateway /var/lib/gateway

ENV GATEWAY_POLICY_FILE=/etc/gateway/policy.yaml \
    GATEWAY_SPOOL_DIR=/var/lib/gateway/spool \
    GATEWAY_LEDGER_DIR=/var/lib/gateway/ledger \
    PROMETHEUS_MULTIPROC_DIR=/var/lib/gateway/metrics \
    GATEWAY_WORKERS=2

USER 10001:10001
WORKDIR /var/lib/gateway
EXPOSE 8080

# /healthz only says the process answers; readiness (Redis, upstream) is the orchestrator's /readyz probe,
# so a Redis outage never makes Docker restart healthy replicas.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]

# uvicorn stops accepting on SIGTERM, lets in-flight calls finish (--graceful-timeout), then drains settlements.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gateway-entrypoint"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
