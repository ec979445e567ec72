# One image for web (gunicorn), worker and beat (celery); docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    MEDIA_ROOT=/data/media

WORKDIR /app

# WeasyPrint (CIOMS PDFs) loads Pango and HarfBuzz from the system at run time: the packages its documentation
# lists for Debian; fontconfig comes with them and brings a font. The slim image has none of them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so a code change does not reinstall them (psycopg[binary] brings its own libpq).
COPY pyproject.toml ./
RUN python - <<'PY' > /tmp/requirements.txt
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))
PY
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/var /data/media /data/beat \
    && chown -R app:app /app /data

COPY --chown=app:app . .

USER app

# Static files are built into the image (whitenoise serves them with hashed names); the key is a throwaway.
RUN DJANGO_ENV=production SECRET_KEY=collectstatic-only-not-a-secret-collectstatic-only-not-a-secret \
    SITE_URL=https://collectstatic-only.example.org ALLOWED_HOSTS=collectstatic-only.example.org \
    FHIR_SYSTEM_URI=https://collectstatic-only.example.org/fhir \
    python manage.py collectstatic --noinput --verbosity 0

EXPOSE 8000
# 3 sync workers measured best on 2 cores (more add latency, not throughput); set GUNICORN_WORKERS on bigger hosts.
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
