"""gunicorn settings for the portal's web processes (`gunicorn portal.wsgi`).

Everything can be overridden from the environment (GUNICORN_CMD_ARGS or the variables
below). Web processes are stateless: run as many as needed behind a load balancer.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
# SkyCore wants an answer to a postback within 10 s; nothing the portal serves should be
# near that, so a stuck request is killed well before the provider gives up.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 8))
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
limit_request_line = 8190
limit_request_fields = 100
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
