# Liaison RSA: one image for web, worker and beat.
# Build stage: the locked dependencies (requirements.txt, hashes checked) as
# wheels, so the runtime image has no compiler and exactly the tested versions.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY requirements.txt ./
RUN pip wheel --no-cache-dir --require-hashes --no-deps --wheel-dir /wheels -r requirements.txt

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_MODE=production \
    DATA_DIR=/var/lib/liaison-rsa \
    STATIC_ROOT=/app/staticfiles
RUN groupadd --system liaison && useradd --system --gid liaison --home /app liaison
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --no-deps /wheels/*.whl && rm -rf /wheels
# Owned by root: the code is read, never written, by the user that runs it.
COPY . .
# The French catalogue's plural forms (« 0 bénéficiaire »), compiled with Babel.
RUN python -m babel.messages.frontend compile -d locale -D django
# collectstatic needs settings to load: give it throw-away values at build time only.
RUN SECRET_KEY=build-only-not-secret-build-only-not-secret-build-only \
    ALLOWED_HOSTS=build DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost TRUSTED_PROXIES=127.0.0.1 \
    python manage.py collectstatic --no-input \
 && mkdir -p /var/lib/liaison-rsa && chown liaison:liaison /var/lib/liaison-rsa
USER liaison
EXPOSE 8000
# gunicorn.conf.py sets the workers (WEB_CONCURRENCY) and the access log's format.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
