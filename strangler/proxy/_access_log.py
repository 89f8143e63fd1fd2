"""The access log of ``strangler serve --access-log``: one line per request, no secrets.

uvicorn writes the line on its ``uvicorn.access`` logger (client address, method, path and
query, HTTP version, status). :class:`RedactedAccessLog` is a logging filter on that line's
handler: query parameters with secret names (``token``, ``api_key``, ``password``... and
the config's ``rules.redact.fields``) lose their values, and card numbers and IBANs in the
path or query are removed, as everywhere else strangler writes something down::

    127.0.0.1:51234 - "GET /orgs/acme?token=%5BREDACTED%5D&page=2 HTTP/1.1" 200

Headers are never in the line, so ``Authorization`` and cookies cannot leak through it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from shadow.redact import Redactor
from shadow.rules import RedactRules

__all__ = ["RedactedAccessLog"]


class RedactedAccessLog(logging.Filter):
    """Redacts the request target of uvicorn's access-log records (``fields``: more names).

    >>> RedactedAccessLog().target("/reset?token=abc&next=/home")
    '/reset?token=%5BREDACTED%5D&next=%2Fhome'
    """

    def __init__(self, fields: Sequence[str] = ()) -> None:
        super().__init__()
        self._redactor = Redactor(RedactRules(fields=tuple(fields)))

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's record: (client, method, path with query, HTTP version, status)
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], self.target(args[2]), args[3], args[4])
        return True

    def target(self, target: str) -> str:
        """``target`` (path and query) with its secrets removed."""
        path, sep, query = target.partition("?")
        path = self._redactor.text(path)
        return f"{path}?{self._redactor.query(query)}" if sep else path
