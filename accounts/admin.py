from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from audit.admin_mixins import StrictLookupsMixin
from cases.models import User

from .models import UserSession
from .services import requires_two_factor, token_delete, token_issue


@admin.register(UserSession)
class UserSessionAdmin(StrictLookupsMixin, admin.ModelAdmin):
    list_display = ("user", "created_at")
    search_fields = ("user__username",)
    # Never the session key: it would let whoever reads the page act as that person.
    fields = ("user", "created_at")
    readonly_fields = ("user", "created_at")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TokenIssueForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        label="Person or system the token is for",
    )
    reason = forms.CharField(
        label="Why they need an API token",
        help_text="Recorded in the security log. A token is not asked for a second factor, so a token "
        "for a manager or an administrator must be a deliberate decision.",
        max_length=150,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say why this person needs an API token."},
    )


# django-rest-knox registers an admin whose add form mints a token from a bare form and lists
# each token's digest: replaced by this one.
admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class AuthTokenAdmin(StrictLookupsMixin, admin.ModelAdmin):
    """API tokens by owner, prefix, created and expiry: never the key, which is not stored (only
    its hash), nor the hash. Issuing goes through `token_issue` (a reason, a security event, the
    key shown once); deleting through `token_delete` (a security event). Nothing is edited."""

    list_display = ("owner", "prefix", "created", "expiry")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    search_help_text = "Search by username."
    ordering = ("-created",)
    fields = ("owner", "prefix", "created", "expiry")
    readonly_fields = ("owner", "prefix", "created", "expiry")
    sortable_by = ("created", "expiry")

    @admin.display(description="Owner", ordering="user__username")
    def owner(self, obj):
        return obj.user.get_username()

    @admin.display(description="Starts with")
    def prefix(self, obj):
        # Enough to tell a partner which of its keys this is; the key itself is never stored.
        return f"{obj.token_key[:8]}…"

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        token_delete(token=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for token in queryset.select_related("user"):
            token_delete(token=token, actor=request.user)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TokenIssueForm(request.POST if request.method == "POST" else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Issue an API token",
            "form": form,
        }
        if form.is_valid():
            user = form.cleaned_data["user"]
            try:
                issued = token_issue(user=user, actor=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                context.update(
                    title="API token issued",
                    key=issued.key,
                    token=issued.token,
                    owner=user,
                    skips_two_factor=requires_two_factor(user),
                )
                response = TemplateResponse(request, "admin/accounts/token_issued.html", context)
                response["Cache-Control"] = "no-store"
                return response
        return TemplateResponse(request, "admin/accounts/token_issue.html", context)


def _strict_lookups_everywhere(site: admin.AdminSite) -> None:
    """The admins other apps register (authenticators, lock-outs, schedules, groups) take only
    their own filters' lookups too: Django would otherwise apply any lookup on a model's own
    fields, e.g. `?key__startswith=` on an authenticator's secret, one character at a time.
    accounts is the last app installed, so every other admin is registered by now."""
    for model, model_admin in list(site._registry.items()):
        if not isinstance(model_admin, StrictLookupsMixin):
            strict = type(f"Strict{type(model_admin).__name__}", (StrictLookupsMixin, type(model_admin)), {})
            site.unregister(model)
            site.register(model, strict)


class AuthenticatorAdmin(StrictLookupsMixin, admin.ModelAdmin):
    """Authenticators: who has one and whether it is confirmed, never the secret key (which would let
    an admin make a manager's codes). Deleting one is how a lost phone is recovered: the person
    sets up a new one at the next sign-in; each deletion is a security event."""

    list_display = ("user", "name", "confirmed")
    list_filter = ("confirmed",)
    search_fields = ("user__username",)
    fields = ("user", "name", "confirmed")
    readonly_fields = fields
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        from audit.security import SecurityEventKind, security_event

        user = obj.user
        super().delete_model(request, obj)
        security_event(
            SecurityEventKind.TWO_FACTOR_REMOVED,
            request=request,
            user=user,
            route=f"by {request.user.get_username()}",
        )


admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, AuthenticatorAdmin)

_strict_lookups_everywhere(admin.site)
