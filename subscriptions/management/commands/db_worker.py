"""`manage.py db_worker`: django-tasks-db's worker (this command replaces the library's of
the same name: `subscriptions` comes before `django_tasks_db` in INSTALLED_APPS), with one
option more: `--threads N` runs up to N tasks at once, claimed together
(subscriptions/common/worker.py). Without it the library's own loop runs, unchanged."""

from django.core.management.base import CommandError
from django.db import connection
from django_tasks_db.management.commands import db_worker as library

from subscriptions.common.worker import ThreadedWorker


class Command(library.Command):
    help = library.Command.help + "; --threads N runs up to N tasks at once"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--threads",
            type=int,
            default=1,
            help="Tasks run at once in this process, each on its own thread and database "
            "connection; idle threads' tasks are claimed together (PostgreSQL; default 1: the "
            "library's one-at-a-time loop).",
        )

    def handle(self, *args, threads: int, **options) -> None:
        if threads < 1:
            raise CommandError("--threads must be at least 1")
        if threads == 1:
            return super().handle(*args, **options)
        if connection.vendor == "sqlite":
            raise CommandError("--threads needs PostgreSQL: SQLite takes one writer at a time")
        self.configure_logging(options["verbosity"])
        queue_names = options["queue_name"].split(",")
        excluded = options["exclude_queues"].split(",") if options["exclude_queues"] else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = ThreadedWorker(
            threads=threads,
            queue_names=queue_names,
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
            excluded_queue_names=excluded,
        )
        worker.configure_signals()
        worker.run()
