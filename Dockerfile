# One image for every plantwatch component; docker-compose.yml picks the command
# (`plantwatch ingest`, `plantwatch scheduler`, `plantwatch api`, `plantwatch dashboard`, ...).
#   docker build -t plantwatch .                      TensorFlow with CUDA (the scheduler trains on a GPU)
#   docker build --build-arg GPU=false -t plantwatch .  CPU-only TensorFlow, a much smaller image
FROM python:3.11-slim

ARG GPU=true

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PLANTWATCH_VAR_DIR=/var/lib/plantwatch \
    PLANTWATCH_API_HOST=0.0.0.0 \
    PLANTWATCH_DASHBOARD_HOST=0.0.0.0

RUN groupadd --system --gid 10001 plantwatch \
    && useradd --system --uid 10001 --gid plantwatch --create-home --home-dir /home/plantwatch plantwatch \
    && mkdir -p /var/lib/plantwatch \
    && chown plantwatch:plantwatch /var/lib/plantwatch

WORKDIR /app

# Dependencies first: this large layer is rebuilt only when pyproject.toml (or GPU) changes.
COPY pyproject.toml deploy/requirements.py /tmp/build/
RUN python /tmp/build/requirements.py /tmp/build/pyproject.toml $([ "$GPU" = "true" ] && echo --gpu) \
        > /tmp/build/requirements.txt \
    && pip install -r /tmp/build/requirements.txt \
    && rm -rf /tmp/build

COPY . /app
RUN pip install --no-deps /app

USER plantwatch
# Models, inspection images and other artifacts; docker-compose.yml mounts a named volume here.
VOLUME ["/var/lib/plantwatch"]
EXPOSE 8000 8501

ENTRYPOINT ["plantwatch"]
CMD ["--help"]
