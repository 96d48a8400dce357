"""CSV imports in the admin: an upload page, then the job's page with a live progress bar
(static/subscriptions/import_progress.js polls the JSON status URL)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from subscriptions.admin.base import PortalAdmin, compact_time
from subscriptions.imports import pipeline
from subscriptions.models import ImportJob
from subscriptions.reporting.csv_export import streaming_csv_response

IMPORT_PERMISSION = "subscriptions.import_subscriptions"


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with the columns phone, short_code, keyword, status "
        "(Active / Subscribe / Unsubscribe) and optionally "
        "occurred_at, consent_text."
    )
    dry_run = forms.BooleanField(
        required=False, help_text="Only report what would change; write nothing."
    )


def job_status(job):
    return {
        "id": job.pk,
        "status": job.status,
        "total": job.total,
        "processed": job.processed,
        "applied": job.applied,
        "refused": job.refused,
        "unchanged": job.unchanged,
        "errors": job.errors,
        "percent": job.percent,
        "dry_run": job.dry_run,
        "failure": job.failure,
    }


@admin.register(ImportJob)
class ImportJobAdmin(PortalAdmin):
    list_display = ["created", "file_name", "dry_run", "status", "rows", "created_by"]
    created = compact_time("created_at", "Created")

    @admin.display(description="Rows")
    def rows(self, job):
        return (
            f"{job.processed} of {job.total}: {job.applied} applied, {job.refused} refused, "
            f"{job.errors} errors"
        )

    list_filter = ["status", "dry_run"]
    list_select_related = ["created_by"]
    # Status and counters are in the live progress box above the form (progress.html).
    fields = ["file_name", "dry_run", "created_by", "created_at", "started_at", "finished_at"]
    readonly_fields = fields
    change_form_template = "admin/subscriptions/importjob/progress.html"
    show_full_result_count = False

    def has_add_permission(self, request):
        return request.user.has_perm(IMPORT_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/status/", view(self.status_view), name="subscriptions_importjob_status"),
            path(
                "<int:pk>/errors.csv", view(self.errors_view), name="subscriptions_importjob_errors"
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
        if form.is_bound and form.is_valid():
            job = pipeline.submit(
                form.cleaned_data["file"], dry_run=form.cleaned_data["dry_run"], user=request.user
            )
            return redirect(reverse("admin:subscriptions_importjob_change", args=[job.pk]))
        return TemplateResponse(
            request,
            "admin/subscriptions/importjob/upload.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "opts": self.opts,
                "title": "Import subscriptions from CSV",
            },
        )

    def _job(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(ImportJob, pk=pk)

    def status_view(self, request, pk):
        return JsonResponse(job_status(self._job(request, pk)))

    def errors_view(self, request, pk):
        job = self._job(request, pk)
        return streaming_csv_response(pipeline.errors_csv_rows(job), f"import-{job.pk}-errors.csv")
