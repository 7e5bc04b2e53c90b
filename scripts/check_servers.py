"""Are the servers the tests need answering? PostgreSQL at 127.0.0.1:5432 (trust auth, user
postgres: tests/helpers/postgres.py) and Redis at CENTRALITA_TEST_REDIS, by default
redis://127.0.0.1:6379/0 (tests/helpers/redis_server.py).

scripts/run-tests.sh runs this before the suite, so a missing server stops the run at once
with its name, instead of as hundreds of failed tests under CI=true. It neither installs nor
starts anything: these machines run both servers as services. Exit status 1 names each one
that does not answer.
"""

from __future__ import annotations

import os
import sys

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_URL = os.environ.get("CENTRALITA_TEST_REDIS", "redis://127.0.0.1:6379/0")
TIMEOUT_S = 3


def postgres_problem() -> str | None:
    import psycopg

    try:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                             connect_timeout=TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL at {PG_HOST}:{PG_PORT} (user {PG_USER}): {first}"
    return None


def redis_problem() -> str | None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=TIMEOUT_S,
                                  socket_timeout=TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL}: {exc}"
    finally:
        client.close()
    return None


def main() -> int:
    problems = [p for p in (postgres_problem(), redis_problem()) if p is not None]
    for problem in problems:
        print(f"run-tests: not reachable: {problem}", file=sys.stderr)
    if problems:
        print("run-tests: the store, routing and cluster tests need these servers running "
              "(nothing here installs or starts them); start them and run again.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
