# Keyguard's image: `keyguard serve` by default; the same image runs `smtp`, `worker`, `init`.
#
#   podman build -t keyguard .          (or docker build)
#   podman run --read-only --tmpfs /tmp -v keyguard-data:/var/lib/keyguard -p 8080:8080 keyguard
#
# Read-only root filesystem friendly: Python writes no bytecode at run time (compiled at
# build time), and Keyguard writes only to its data directory (/var/lib/keyguard) and /tmp,
# both declared volumes. docs/deploy.md has the production settings (TLS, live mode, vaults).
#
# BASE is any Debian-like image with Python 3.11+ at the same path in both stages, with
# `python3 -m venv` and `useradd`; python:3.11-slim by default. docs/deploy.md says how the
# image was built on a machine that cannot reach a container registry.
ARG BASE=docker.io/library/python:3.11-slim

FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The client first: the server pins keyguard-client to the version beside it.
COPY clients/python /src/clients/python
COPY pyproject.toml README.md LICENSE /src/
COPY src /src/src
# Behind a TLS-inspecting proxy, give its CA bundle as a build secret (never a layer):
#   podman build --secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt .
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
 && python3 -m venv /opt/keyguard \
 && /opt/keyguard/bin/pip install /src/clients/python /src \
 && /opt/keyguard/bin/python -m compileall -q /opt/keyguard/lib

FROM ${BASE}
COPY --from=build /opt/keyguard /opt/keyguard
# A fixed uid/gid, so that volumes and Kubernetes' runAsUser agree with the image.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/keyguard \
        --no-create-home --shell /usr/sbin/nologin keyguard \
 && install -d -o keyguard -g keyguard -m 0700 /var/lib/keyguard
ENV PATH=/opt/keyguard/bin:$PATH \
    HOME=/var/lib/keyguard \
    KEYGUARD_DATA_DIR=/var/lib/keyguard \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/keyguard
VOLUME ["/var/lib/keyguard", "/tmp"]
EXPOSE 8080 2525
# SIGTERM drains: in-flight requests and SMTP messages finish (at most 30 s), usage events
# are written; give the container longer than that to stop (compose: stop_grace_period).
STOPSIGNAL SIGTERM
# Readiness, not mere liveness: the database, Redis and the secrets backend (GET /readyz).
# Slim images have no curl; Python's standard library is enough.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["keyguard"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
