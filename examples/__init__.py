"""A realistic legacy service and its rewrite, used by the demo and the tests.

- :mod:`examples.legacy`: the WSGI app (Flask, hand-written SQL, legacy schema quirks).
- :mod:`examples.new`: the ASGI rewrite (Starlette, command layer, SQLAlchemy models).
- :mod:`examples.seed`: create and seed the legacy database.
- :mod:`examples.mappings`: legacy -> new data mappings.
- :mod:`examples.demo`: the whole story in one command (``python -m examples.demo``).
"""
