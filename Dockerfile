# One image for every service and one-shot step; the command picks which:
#   serve ingestor|scorer|syncer_meta|syncer_google|scheduler|api, db upgrade, topics ensure,
#   sandbox meta|google. docker-compose.yml and deploy/k8s run it (docs/deploy.md).
FROM python:3.11-slim

# LightGBM's wheel (the scorer's learned value model) links OpenMP's runtime, which slim lacks;
# every other runtime dependency is a manylinux wheel that carries its own libraries.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
# A regular (not editable) install: migrations, definitions and dashboard files come as package data.
RUN pip install --no-cache-dir . && rm -rf /src

# The services' writable state (AUDIENCESYNC_VAR_DIR: privacy exports, the scheduler's effective
# definitions) and the sandboxes' state. Created here, owned by the service user, so a named
# volume mounted on either starts with that owner.
RUN useradd --system --uid 10001 --home-dir /var/lib/audiencesync audiencesync \
    && mkdir -p /var/lib/audiencesync /sandbox \
    && chown audiencesync:audiencesync /var/lib/audiencesync /sandbox

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LOG_FORMAT=json \
    AUDIENCESYNC_VAR_DIR=/var/lib/audiencesync \
    API_HOST=0.0.0.0
WORKDIR /var/lib/audiencesync
USER 10001
EXPOSE 8080
ENTRYPOINT ["audiencesync"]
CMD ["serve", "api", "--port", "8080"]
