# alerter image, used by docker-compose.yml for the web instances (am1, am2) and the workers.
#
#   docker build -t alerter .
#   docker run -p 9093:9093 alerter                          # embedded single node
#   docker run alerter web --redis.url=redis://redis:6379/0  # web tier on a shared Redis
#
# Paths mirror the prom/alertmanager image (config in /etc/alertmanager, data in
# /alertmanager), so compose files and volume mounts written for Alertmanager carry over.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/alerter
# Only what the package needs: no venv, tests or caches from the build context. A plain
# install: the default templates are package data (app/template/defaults) and go with it. The
# `sns` extra (botocore, to sign SNS requests) too, so that any alertmanager.yml loads.
COPY pyproject.toml ./
COPY app ./app
COPY workers ./workers
RUN pip install '.[sns]'

COPY config/alertmanager.yml /etc/alertmanager/alertmanager.yml
# Run unprivileged, as prom/alertmanager does; the data dir must belong to that user (named
# volumes mounted there copy this ownership on first use).
RUN mkdir -p /alertmanager && chown nobody:nogroup /alertmanager
USER nobody
WORKDIR /alertmanager
VOLUME ["/alertmanager"]
EXPOSE 9093

ENTRYPOINT ["alerter"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
