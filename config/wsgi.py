import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.checks import refuse_unsafe_production  # noqa: E402  (after the settings module is named)
from config.embedded import prepare  # noqa: E402

# A web process starts only with safe production settings, and with its data folder made.
refuse_unsafe_production()
prepare()
application = get_wsgi_application()
