"""Settings for tests of a cache outage: a Redis cache nobody answers (nothing listens
on port 9), with short timeouts so each refused call costs milliseconds."""

DEAD_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}
