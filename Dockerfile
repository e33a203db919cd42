FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY web4os ./web4os
COPY alembic ./alembic
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir -e . \
    && useradd --create-home --uid 10001 web4os \
    && mkdir -p /data && chown web4os /data  # a new named volume takes this owner
# No root at run time (Celery also warns against it); state lives in Postgres.
USER web4os
ENV WEB4OS_DATA_DIR=/home/web4os/.web4os
EXPOSE 8000
CMD ["web4os", "serve", "--host", "0.0.0.0", "--port", "8000"]
