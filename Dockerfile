FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STATIC_ROOT=/app/staticfiles
WORKDIR /app
# python-ldap builds against OpenLDAP/SASL; the runtime libraries stay after the build.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libldap-dev libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir -e .
COPY . .
RUN useradd --create-home tierdesk && mkdir -p /srv/media /srv/var && chown -R tierdesk /srv /app
USER tierdesk
# collectstatic needs settings that do not require production secrets at build time.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=build-only-key-not-used-at-runtime-0123456789abcdef TIERDESK_VAR_DIR=/tmp/var python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "helpdesk.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4"]
