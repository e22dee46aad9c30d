# Production image: gunicorn serving Django with the production settings.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=safeguarding.settings.production

WORKDIR /app
RUN useradd --create-home --uid 10001 app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# collectstatic needs settings but no real secret or database.
RUN DEBUG=false SECRET_KEY=build-only-not-used-at-runtime-xxxxxxxxxxxxxxxxxxxxxxxxxxxx \
    DATABASE_URL=postgres://build@localhost/build python manage.py collectstatic --no-input
USER app
EXPOSE 8000
CMD ["gunicorn", "safeguarding.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
