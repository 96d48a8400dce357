"""The closed vocabularies of the model: statuses, sources, actions and outcomes."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProviderKind(models.TextChoices):
    CONSOLE = "console", "Console (records only)"
    SFMC = "sfmc", "Salesforce Marketing Cloud MobileConnect"
    WHATCOUNTS = "whatcounts", "WhatCounts"
    SKYCORE = "skycore", "SkyCore"


class Status(models.TextChoices):
    OPTED_IN = "opted_in", _("Opted in")
    OPTED_OUT = "opted_out", _("Opted out")
    PENDING = "pending", _("Waiting for confirmation")


class Source(models.TextChoices):
    WEB = "web", "Web (preferences page)"
    API = "api", "API"
    MO = "mo", "Text message (MO)"
    IMPORT = "import", "Import"
    ADMIN = "admin", "Admin"
    POSTBACK = "postback", "Provider postback"
    SYSTEM = "system", "System"


class Action(models.TextChoices):
    OPT_IN = "opt_in", "Opt in"
    OPT_OUT = "opt_out", "Opt out"
    STOP_ALL = "stop_all", "Stop all (code-wide)"
    CUSTOM_STOP = "custom_stop", "Custom stop (one provider account)"
    CONFIRM = "confirm", "Confirm double opt-in"
    RESTART = "restart", "Restart after STOP (START / UNSTOP)"
    HELP = "help", "Help"
    NONE = "none", "No action"
    REVIEW = "review", "Paused: may be a revocation (staff decide)"
    REVIEW_DECIDED = "review_done", "Revocation review decided"


class Outcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    REFUSED = "refused", "Refused"
    NO_CHANGE = "no_change", "No change"
    STALE = "stale", "Stale (older than the last applied event)"


class KeywordKind(models.TextChoices):
    PROGRAM = "program", "Program"
    STOP = "stop", "Custom stop"
    HELP = "help", "Help"
    CONFIRM = "confirm", "Double opt-in confirmation"


class SyncStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (permanent, or attempts exhausted)"
    LOCAL_ONLY = "local_only", "Local only (the provider cannot do this)"
    SUPERSEDED = "superseded", "Superseded by a later change"


class MessagePurpose(models.TextChoices):
    REPLY = "reply", "Reply to an inbound text"
    DOUBLE_OPT_IN = "double_opt_in", "Double opt-in prompt"
    CONFIRMATION = "confirmation", "Opt-in / opt-out confirmation"
    ONE_TIME_CODE = "one_time_code", "Preferences one-time code"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class PostbackProblem(models.TextChoices):
    UNKNOWN_SHORT_CODE = "unknown_short_code", "Short code unknown to the portal"
    FOREIGN_SHORT_CODE = "foreign_short_code", "Short code not served by this account"
    REJECTED = "rejected", "Rejected as invalid (answered 400)"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ActivitySeries(models.TextChoices):
    OPT_INS = "opt-ins", "opt-ins"
    OPT_OUTS = "opt-outs", "opt-outs"
    STOPS = "STOPs", "STOPs"
