"""Settings for the benches: the real portal settings plus a URLconf that adds the baseline
endpoints (bench/urls.py). Never used by the product."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
# Persistent connections, as a production deployment would run them.
DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"handlers": [], "level": "ERROR"},
}
