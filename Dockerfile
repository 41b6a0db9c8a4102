# One image for every service; the command picks the service (`audiencesync serve <name>`).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LOG_FORMAT=json
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir . && useradd --system --uid 10001 audiencesync
USER audiencesync
ENTRYPOINT ["audiencesync"]
CMD ["serve", "api", "--port", "8080"]
