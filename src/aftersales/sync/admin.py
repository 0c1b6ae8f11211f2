"""Admin for channel sync: imports (upload a channel's export, follow it, download its error
report), and, in admin_links, channel links and the event log."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from aftersales.accounts.selectors import shop_ids_for
from aftersales.channels.models import Channel
from aftersales.core.errors import DomainError
from aftersales.core.tabular import table_response
from aftersales.sync import admin_links  # noqa: F401  (channel links and events)
from aftersales.sync.importing.presets import PRESETS
from aftersales.sync.importing.report import report_table
from aftersales.sync.importing.runs import import_queue
from aftersales.sync.models import ImportKind, ImportRun

PREVIEW = 50  # problems shown on the page; the report has them all


class ImportUploadForm(forms.Form):
    channel = forms.ModelChoiceField(queryset=Channel.objects.none(), label=_("channel"))
    kind = forms.ChoiceField(choices=ImportKind.choices, label=_("kind"))
    preset = forms.ChoiceField(
        choices=[("", _("The channel's own"))] + [(code, code) for code in PRESETS],
        required=False,
        label=_("column preset"),
    )
    file = forms.FileField(label=_("file"), help_text=_("CSV (UTF-8 or GBK) or XLSX."))

    def __init__(self, *args, shop_ids: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = Channel.objects.filter(
            shop_id__in=shop_ids, active=True
        ).select_related("shop")


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "channel",
        "filename",
        "status",
        "rows",
        "created",
        "updated",
        "unchanged",
        "failed",
        "started_at",
        "by",
    ]
    list_filter = ["status", "kind", ("channel", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["channel", "by"]
    readonly_fields = [
        "kind",
        "channel",
        "preset",
        "filename",
        "status",
        "rows",
        "created",
        "updated",
        "unchanged",
        "failed",
        "message",
        "by",
        "started_at",
        "finished_at",
        "error_report",
        "first_problems",
    ]
    exclude = ["shop", "source"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(shop_id__in=shop_ids_for(request.user))

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<int:run_id>/errors.csv",
                self.admin_site.admin_view(self.report_view),
                name=f"{opts.app_label}_{opts.model_name}_errors",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url="", extra_context=None):
        """Adding an import is uploading a file."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        shop_ids = shop_ids_for(request.user)
        form = ImportUploadForm(request.POST or None, request.FILES or None, shop_ids=shop_ids)
        if request.method == "POST" and form.is_valid():
            try:
                run = import_queue(
                    actor=request.user,
                    channel=form.cleaned_data["channel"],
                    kind=form.cleaned_data["kind"],
                    upload=form.cleaned_data["file"],
                    preset=form.cleaned_data["preset"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    gettext("The file is queued; this page shows the import as it runs."),
                    messages.SUCCESS,
                )
                return redirect("admin:sync_importrun_change", run.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Import a channel's export"),
            "form": form,
        }
        from django.template.response import TemplateResponse

        return TemplateResponse(request, "admin/sync/importrun/upload.html", context)

    def report_view(self, request: HttpRequest, run_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(self.get_queryset(request), pk=run_id)
        return table_response(
            report_table(run), format="csv", filename=f"import-{run.pk}-errors.csv"
        )

    @admin.display(description=_("error report"))
    def error_report(self, run: ImportRun) -> str:
        if not run.failed and not run.problems.exists():
            return gettext("No problems.")
        url = reverse("admin:sync_importrun_errors", args=[run.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Download the error report (CSV)"))

    @admin.display(description=_("first problems"))
    def first_problems(self, run: ImportRun) -> str:
        shown = list(run.problems.order_by("row", "id")[:PREVIEW])
        if not shown:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((p.row, p.column, p.value, p.message) for p in shown),
        )
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            gettext("row"),
            gettext("column"),
            gettext("value"),
            gettext("message"),
        )
        return format_html("<table>{}{}</table>", head, rows)
