from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db import DataError, transaction


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
