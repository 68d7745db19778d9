"""Gunicorn settings read automatically from the working directory (Docker image and systemd alike).

The access log leaves out the query string and the referrer: a search
(`?q=…`) may hold a name or a NIR, and application logs must never do.
Command-line options (bind, workers, --access-logfile) still apply.

Workers: the pages are CPU-bound (Python and PostgreSQL share the cores), so
more processes than about twice the cores only queue requests inside the
server instead of in front of it. WEB_CONCURRENCY (gunicorn's own variable)
sets the number, GUNICORN_THREADS > 1 switches to threaded workers
(measured in docs/performance.md, "Pages").
"""

import os

# Client, time, method, path WITHOUT query string, protocol, status, size, duration (µs), user agent.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(D)s "%(a)s"'

workers = int(os.environ.get("WEB_CONCURRENCY", "0")) or 2 * (os.cpu_count() or 1)
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
