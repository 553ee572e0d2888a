# syntax=docker/dockerfile:1
# fastdrg: MS-DRG grouping service. Slim, multi-stage, non-root, ready in seconds.
#
#   docker build -t fastdrg .
#   docker run --rm -p 8000:8000 fastdrg            # then: curl localhost:8000/readyz
#   docker stop -t 35 <container>                   # SIGTERM drains in-flight requests (FASTDRG_GRACEFUL_TIMEOUT)
#
# The steps live in docker/build.sh, which tests/test_service_image.py also runs
# in a fresh virtual environment, so this recipe cannot rot unseen.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtual environment with fastdrg and its dependencies -----------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY engine ./engine
COPY service ./service
COPY docker/build.sh /usr/local/bin/fastdrg-build
RUN fastdrg-build install /opt/fastdrg/venv

# ---- runtime: the venv, tables and compiled kernels, a non-root user -----------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="fastdrg" \
      org.opencontainers.image.description="MS-DRG grouping microservice (CMS MS-DRG v40.0-v43.1)"
ENV PATH=/opt/fastdrg/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FASTDRG_CACHE_DIR=/opt/fastdrg/cache \
    NUMBA_CACHE_DIR=/opt/fastdrg/cache/numba \
    FASTDRG_HOST=0.0.0.0 \
    FASTDRG_PORT=8000 \
    FASTDRG_WORKERS=1 \
    FASTDRG_GRACEFUL_TIMEOUT=25
RUN groupadd --system --gid 10001 fastdrg \
 && useradd --system --uid 10001 --gid fastdrg --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin fastdrg
COPY --from=build /opt/fastdrg/venv /opt/fastdrg/venv
COPY docker/build.sh /usr/local/bin/fastdrg-build
# Build the grouping tables and compile the numba kernels now, at their final paths, so
# that a container loads them in seconds. The cache stays writable by the service user:
# on a CPU unlike the build machine's, numba recompiles once and re-caches.
RUN fastdrg-build warm /opt/fastdrg/venv /opt/fastdrg/cache \
 && chown -R fastdrg:fastdrg /opt/fastdrg/cache
USER fastdrg:fastdrg
WORKDIR /tmp
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD python -c "import os, sys, urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('FASTDRG_PORT', '8000'), timeout=2).status == 200 else 1)"
CMD ["fastdrg", "serve"]
