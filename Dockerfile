# relay247 service image. Give it DATABASE_URL: the image has no embedded Postgres (the
# `embedded` extra is for `make run` and the tests).
FROM python:3.12-slim AS build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# A regular (non-editable) install: the wheel carries the Alembic revisions inside `app`.
# Without the `embedded` extra: the image's Postgres is DATABASE_URL's, and `relay247 serve`
# without it says so and stops.
RUN pip install .

FROM python:3.12-slim
RUN useradd --system --uid 10001 --create-home --home-dir /srv relay247
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 RELAY247_DATA_DIR=/srv/data
USER relay247
WORKDIR /srv
EXPOSE 8247
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8247/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["relay247"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8247"]
