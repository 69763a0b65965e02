# The monitor's Airflow image: the official image of the pinned Airflow version, extended with
# this package (its DAGs, seeds, warehouse migrations and the Trends plugin) installed with
# the repo's lock file as constraints, exactly the versions the test suite runs.
# docker-compose.yml builds it; `docker build -t russia-asia-monitor .` does the same.
#
# The FROM tag and requirements/lock.txt move together: tests/production/test_compose.py
# fails when the tag's Airflow or Python version differs from the lock's.
FROM apache/airflow:3.3.2-python3.11

# The code lives in /opt/monitor (the package finds seeds/, warehouse/ and dags/ next to
# itself). The compose file mounts named volumes at /opt/monitor-data (warehouse),
# /opt/airflow/logs and /opt/airflow/config (the admin password file): created here, owned by
# the airflow user, so a fresh named volume inherits that ownership and is writable.
USER root
RUN mkdir -p /opt/monitor /opt/monitor-data /opt/airflow/logs /opt/airflow/config \
    && chown -R airflow:0 /opt/monitor /opt/monitor-data /opt/airflow/logs /opt/airflow/config \
    && chmod -R g+rwX /opt/monitor-data /opt/airflow/logs /opt/airflow/config
USER airflow

WORKDIR /opt/monitor
COPY --chown=airflow:0 . /opt/monitor

# Not _PIP_ADDITIONAL_REQUIREMENTS (reinstalls on every container start): install once, at
# build time. apache-airflow is named with the image's own version so pip can never swap it,
# and every other package is held to requirements/lock.txt. Editable (-e) so that the
# package's REPO_ROOT is /opt/monitor, where the seeds, migrations and DAG files are.
RUN pip install --no-cache-dir \
        --constraint requirements/lock.txt \
        "apache-airflow==${AIRFLOW_VERSION}" \
        -e ".[prod]" \
    && python -c "import monitor.production, airflow.providers.celery, psycopg2" \
    && AIRFLOW_HOME=/tmp/airflow-check airflow plugins --output plain | grep -q monitor_trends \
    && rm -rf /tmp/airflow-check

ENV MONITOR_HOME=/opt/monitor-data \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/monitor/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
