"""Gunicorn settings read automatically from the working directory (Docker image and systemd alike).

The access log leaves out the query string and the referrer: the search text
no longer travels in URLs (it is POSTed and kept behind a token, see
beneficiaries/search_tokens.py), but a query string is still something a user
typed, and application logs must never hold a name or a NIR.
Command-line options (bind, workers, --access-logfile) still apply.

Workers: the pages are CPU-bound (Python and PostgreSQL share the cores), so
the default is the cores plus one; on 2 cores 3 and 4 sync workers served
about the same (72 and 80 requests/s, one run each) and threaded workers
less (63/s). WEB_CONCURRENCY (gunicorn's own variable) sets the number,
GUNICORN_THREADS > 1 switches to threaded workers (measured in
docs/performance.md, "Pages").
"""

import os

# Client, time, method, path WITHOUT query string, protocol, status, size, duration (µs), user agent.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(D)s "%(a)s"'

workers = int(os.environ.get("WEB_CONCURRENCY") or 0) or (os.cpu_count() or 1) + 1
threads = int(os.environ.get("GUNICORN_THREADS") or 1)
