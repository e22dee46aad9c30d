"""The second sign-in step: set up an authenticator app, then give its code at each sign-in."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login

from . import services
from .forms import CodeForm
from .signals import TWO_FACTOR_REQUIRED


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


def _throttled(form: CodeForm, device) -> bool:
    """A wrong code makes the next one wait a moment (django-otp): say so, rather than 'wrong'."""
    wait = services.totp_wait_seconds(device) if device is not None else 0
    if wait:
        form.add_error("otp_token", f"Wait {wait} second{'s' if wait != 1 else ''}, then enter the newest code")
    return bool(wait)


@login_required
@sensitive_post_parameters("otp_token")
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Add an authenticator app: scan the QR code (or type the key), then give the first code."""
    user = request.user
    if services.has_two_factor(user) and not user.is_verified():
        # Replacing an authenticator needs the current one first.
        return redirect("two-factor-verify")
    device = services.totp_pending_device(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and not _throttled(form, device):
        if services.totp_confirm(user=user, device=device, token=form.cleaned_data["otp_token"], request=request):
            otp_login(request, device)
            request.session[TWO_FACTOR_REQUIRED] = True
            messages.success(
                request, "Your authenticator app is set up. You will be asked for a code when you sign in."
            )
            return redirect(_next_url(request))
        form.add_error(
            "otp_token", "That code is not right. Check the app shows this service, then try the newest code"
        )
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "secret": services.totp_secret(device),
            "qr": services.totp_qr_data_uri(device),
            "next": _next_url(request),
            "required": services.requires_two_factor(user),
            "idle_limit": services.duration_words(settings.SESSION_IDLE_TIMEOUT),
            "absolute_limit": services.duration_words(settings.SESSION_ABSOLUTE_TIMEOUT),
        },
    )


@login_required
@sensitive_post_parameters("otp_token")
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not services.has_two_factor(user):
        return redirect("two-factor-setup")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and not _throttled(form, services.confirmed_device(user)):
        device = services.totp_verify(user=user, token=form.cleaned_data["otp_token"], request=request)
        if device is not None:
            otp_login(request, device)
            return redirect(_next_url(request))
        form.add_error(
            "otp_token", "That code is not right or has run out. Enter the newest code from your authenticator app"
        )
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": _next_url(request)})


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/account.html",
        {
            "has_two_factor": services.has_two_factor(user),
            "required": services.requires_two_factor(user),
            "idle_limit": services.duration_words(settings.SESSION_IDLE_TIMEOUT),
            "absolute_limit": services.duration_words(settings.SESSION_ABSOLUTE_TIMEOUT),
        },
    )
