"""Policies in the admin: versions are edited as JSON; saving validates and checks the floor."""

from django import forms
from django.contrib import admin, messages

from aftersales.core.errors import Invalid
from aftersales.policies.models import Policy, PolicyDecision, PolicyVersion
from aftersales.policies.services import document_validate, policy_publish


class PolicyVersionForm(forms.ModelForm):
    class Meta:
        model = PolicyVersion
        fields = ["shop", "policy", "document"]

    def clean_document(self):
        document = self.cleaned_data["document"]
        try:
            document_validate(document)
        except Invalid as exc:
            raise forms.ValidationError(
                [exc.message] + [f"{k}: {v}" for k, v in exc.fields.items()]
            ) from exc
        return document


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "shop", "channel", "category", "created_at"]
    list_filter = ["shop"]


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    form = PolicyVersionForm
    list_display = ["policy", "number", "status", "created_at", "published_at"]
    list_filter = ["status", "shop"]
    actions = ["publish"]

    def get_readonly_fields(self, request, obj=None):
        # A written version never changes: edit by adding a new one.
        return ["shop", "policy", "document", "number", "status"] if obj else ["number", "status"]

    def save_model(self, request, obj, form, change):
        if not change:
            last = PolicyVersion.objects.filter(policy=obj.policy).order_by("-number").first()
            obj.number = (last.number + 1) if last else 1
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Publish the selected version")
    def publish(self, request, queryset):
        for version in queryset:
            policy_publish(actor=request.user, version=version)
        messages.success(request, f"Published {queryset.count()} version(s).")


@admin.register(PolicyDecision)
class PolicyDecisionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "case", "trigger", "rule", "action", "applied"]
    list_filter = ["action", "trigger"]
    search_fields = ["=case__id", "rule"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
