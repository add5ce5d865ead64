# ChatConnect production image: one process serving frontend + backend on $PORT.
# Scale out by environment: DATABASE_URL (PostgreSQL), REDIS_URL, QDRANT_URL, SECRET_KEY.
FROM python:3.11-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    REFLEX_USE_SYSTEM_BUN=1 PORT=3000 DATA_DIR=/data

RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm unzip curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
# torch==2.13.0 is pinned; the CPU wheel index keeps CUDA packages out of the image.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \
        -r requirements.txt \
    && npm install --global bun@1.4.5

COPY . .
# Compile the frontend at build time so containers start fast and need no network.
RUN reflex export --frontend-only --no-zip --env prod \
    && useradd --create-home --uid 10001 chatconnect \
    && mkdir -p /data && chown -R chatconnect /data /app

USER chatconnect
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD curl -fsS "http://127.0.0.1:${PORT}/api/health" || exit 1
# Embedded shape: the app migrates its SQLite file at start. Scale-out (compose.yaml): run
# `python -m app.manage migrate` once per release (a job), then start any number of these,
# and job workers from the same image with `python -m app.worker` (health command:
# `python -m app.worker check`; it has no HTTP port, so it overrides this HEALTHCHECK).
CMD ["python", "-m", "app.serve"]
