"""Searching every store for a person's values after an erasure: every table of the database
(each row's every column, as text), the raw bytes of every file under a directory (the
SQLite file and its write-ahead log included), and every Redis key and value under a prefix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import create_engine, inspect, select, table, text


def patterns(values: dict[str, str]) -> dict[str, re.Pattern[str]]:
    """{what: value} as case-insensitive literal patterns."""
    return {name: re.compile(re.escape(v), re.IGNORECASE) for name, v in values.items()}


def table_hits(url: str, needles: dict[str, re.Pattern[str]]) -> list[str]:
    """'table: what' for every table with a row whose text holds a needle."""
    engine = create_engine(url)
    hits: list[str] = []
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names()
            if engine.dialect.name == "sqlite":  # FTS and other virtual tables too
                names = sorted({*names, *(r[0] for r in conn.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")))})
            for name in names:
                rows = conn.execute(select(text("*")).select_from(table(name))).all()
                blob = "\n".join(repr(tuple(r)) for r in rows)
                hits += [f"{name}: {what}" for what, p in needles.items() if p.search(blob)]
    finally:
        engine.dispose()
    return hits


def file_hits(root: Path, needles: dict[str, re.Pattern[str]]) -> list[str]:
    """'path: what' for every file under `root` whose bytes hold a needle (as UTF-8 or as
    UTF-16, as SQLite may store text)."""
    hits: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        text8 = data.decode("latin-1")
        text16 = data.decode("utf-16-le", "replace")
        for what, p in needles.items():
            if p.search(text8) or p.search(text16):
                hits.append(f"{path.relative_to(root)}: {what}")
    return hits


async def redis_hits(client: Redis, prefix: str, needles: dict[str, re.Pattern[str]]) -> list[str]:
    """'key: what' for every key under `prefix` whose name or value holds a needle."""
    hits: list[str] = []
    async for key in client.scan_iter(match=prefix + "*"):
        raw_kind = await client.type(key)
        kind = raw_kind.decode() if isinstance(raw_kind, bytes) else str(raw_kind)
        value: Any
        if kind == "string":
            value = await client.get(key)
        elif kind == "hash":
            value = await client.hgetall(key)
        elif kind == "set":
            value = await client.smembers(key)
        elif kind == "zset":
            value = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = await client.lrange(key, 0, -1)
        else:
            value = kind
        blob = repr(key) + repr(value)
        hits += [f"{key!r}: {what}" for what, p in needles.items() if p.search(blob)]
    return hits
