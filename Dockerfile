# Build the wheel in one stage and install only the wheel in the next: the image runs the
# product as any installation of the package does (templates, static files and migrations
# inside it), with no source tree beside it.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY web4os ./web4os
COPY alembic ./alembic
COPY templates ./templates
COPY static ./static
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /dist /dist
RUN pip install --no-cache-dir /dist/*.whl \
    && rm -rf /dist \
    && useradd --create-home --uid 10001 web4os \
    && mkdir -p /data && chown web4os /data  # a new named volume takes this owner
# No root at run time (Celery also warns against it); state lives in Postgres.
USER web4os
WORKDIR /home/web4os
ENV WEB4OS_DATA_DIR=/home/web4os/.web4os
EXPOSE 8000
CMD ["web4os", "serve", "--host", "0.0.0.0", "--port", "8000"]
