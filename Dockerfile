# The same environment `make setup` builds: Python 3.11, the pinned requirements.lock, the
# package installed without dependencies.  Runs the scheduled job (python -m ml.pipeline)
# against a warehouse, raw exports, artifacts and MLflow store under /data (a volume).
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DO_NOT_TRACK=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    OMP_NUM_THREADS=1 \
    DBT_PROFILES_DIR=/app/profiles \
    DUCKDB_PATH=/data/warehouse/adscore.duckdb \
    ADSCORE_RAW_DIR=/data/raw \
    ADSCORE_ARTIFACTS_DIR=/data/artifacts \
    ADSCORE_OPTUNA_STORAGE=sqlite:////data/optuna/studies.db \
    MLFLOW_TRACKING_URI=sqlite:////data/mlflow/mlflow.db \
    ADSCORE_LOG_FORMAT=json \
    DBT_TARGET_PATH=/tmp/dbt/target \
    DBT_LOG_PATH=/tmp/dbt/logs \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /app

# Dependencies first (cached layer): exactly the pinned set; torch's CPU build comes from
# PyTorch's CPU index (requirements.lock pins torch==2.13.0; the CPU wheel is 2.13.0+cpu).
COPY requirements.lock pyproject.toml ./
RUN python -m venv /app/.venv \
    && /app/.venv/bin/pip install --no-cache-dir \
        --extra-index-url https://download.pytorch.org/whl/cpu \
        -r requirements.lock

COPY dbt_project.yml Makefile README.md ./
COPY ml ./ml
COPY models ./models
COPY macros ./macros
COPY seeds ./seeds
COPY tests ./tests
COPY profiles ./profiles
# tini as PID 1: it passes SIGTERM on (a pod's deadline or deletion) and reaps orphans;
# ml.pipeline hands the signal to its running step either way.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
RUN /app/.venv/bin/pip install --no-cache-dir --no-deps -e . \
    && touch /app/.venv/.installed \
    && useradd --uid 10001 --create-home adscore \
    && mkdir -p /data && chown adscore /data /app

USER 10001
ENV PATH=/app/.venv/bin:$PATH
VOLUME ["/data"]
ENTRYPOINT ["tini", "--", "python", "-m", "ml.pipeline"]
CMD ["--lock-timeout", "600"]
