"""General helpers every package may use: they know nothing of calls, queues, cases or pages.

The bottom of the layering (DESIGN.md): `common` imports nothing of the project, and anything
may import it. A helper belongs here when it is about asyncio, time or limits in general and
more than one package needs it; otherwise it lives with the one package that uses it.

- `common.tasks`: `cancel(*tasks)`, cancel what still runs and wait for all of it.
- `common.lockout`: failure windows and lockouts for whatever checks a secret (SIP digest
  auth, the HTTP login).
"""
