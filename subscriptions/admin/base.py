from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db import DataError, transaction
from django.utils import timezone


class SafeChangeList(ChangeList):
    """A filter value the database cannot take (an id past 64 bits, text for a number on
    PostgreSQL) is "bad filter" (the admin's ?e=1 page), not a 500 (issue 16)."""

    def get_results(self, request):
        try:
            with transaction.atomic():  # PostgreSQL: keep the request's transaction usable
                super().get_results(request)
        except (OverflowError, DataError, ValueError, TypeError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class PortalAdmin(admin.ModelAdmin):
    """Every admin of the portal: list filters that never answer 500."""

    def get_changelist(self, request, **kwargs):
        return SafeChangeList


class ReadOnlyAdmin(PortalAdmin):
    """Viewable, never added, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def compact_time(field, description):
    """A list column showing `field` as "2026-12-01 22:12" (sortable by the field): the
    admin's default "Dec. 1, 2026, 10:12 p.m." takes twice the width."""

    @admin.display(description=description, ordering=field)
    def show(self, obj):
        value = getattr(obj, field)
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"

    show.__name__ = f"{field}_compact"
    return show


def truncated(field, description, length=60):
    """A list column with the first `length` characters of a long text field."""

    @admin.display(description=description)
    def show(self, obj):
        text = getattr(obj, field) or ""
        return text if len(text) <= length else text[: length - 1] + "…"

    show.__name__ = f"{field}_truncated"
    return show
