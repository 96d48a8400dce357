"""Task entry point of the preferences page (the body imports the service: no cycle)."""

from django.tasks import task

from subscriptions.common.queueing import QUEUE_PEOPLE, with_request_id


@task(queue_name=QUEUE_PEOPLE)
@with_request_id
def send_preferences_code(phone: str, language: str):
    from subscriptions.preferences import service

    service.send_code(phone, language)
