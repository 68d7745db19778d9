"""Gunicorn settings read automatically from the working directory (Docker image and systemd alike).

The access log leaves out the query string and the referrer: a search
(`?q=…`) may hold a name or a NIR, and application logs must never do.
Command-line options (bind, workers, --access-logfile) still apply.
"""

# Client, time, method, path WITHOUT query string, protocol, status, size, duration (µs), user agent.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(D)s "%(a)s"'
