# whatshooked in a container: `docker compose up -d` (compose.yaml), or see docs/container.md.
# State (config, store, sessions, media) lives in the /data volume; the process runs as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WHATSHOOKED_CONFIG=/data/config.yaml

WORKDIR /opt/whatshooked/src
COPY pyproject.toml README.md ./
COPY whatshooked ./whatshooked
# neonize's wheel carries whatsmeow as a Go shared library: importing it proves it loads in this image.
RUN pip install --no-cache-dir . \
    && whatshooked --version \
    && python -c "import neonize.client" \
    && rm -rf /opt/whatshooked/src

COPY docker/config.yaml /opt/whatshooked/config.yaml
COPY docker/entrypoint.sh /usr/local/bin/whatshooked-entrypoint
RUN chmod 0755 /usr/local/bin/whatshooked-entrypoint \
    && chmod 0644 /opt/whatshooked/config.yaml \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin whatshooked \
    && install -d -o whatshooked -g whatshooked -m 0700 /data

USER whatshooked
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8825
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8825/health', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["whatshooked-entrypoint"]
CMD ["serve"]
