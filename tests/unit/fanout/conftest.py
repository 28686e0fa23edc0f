"""The fan-out's tests take Redis away: they get a redis-server of their own."""

from tests.private_redis import private_redis

__all__ = ["private_redis"]
