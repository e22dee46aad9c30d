"""The second factor (django-otp, TOTP), as a person signing in sees it: managers and admins must
set up an authenticator app and give its code at each sign-in; anyone else may choose to."""

from __future__ import annotations

from io import StringIO
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import SecurityEvent, SecurityEventKind

from .helpers import (
    LOGIN_URL,
    LOGOUT_URL,
    SETUP_URL,
    VERIFY_URL,
    code_for,
    next_time_step,
    sign_in,
    wait_out_code_throttle,
    with_password,
    wrong_code,
)

pytestmark = pytest.mark.django_db

SETUP_ERROR = "That code is not right. Check the app shows this service, then try the newest code"
VERIFY_ERROR = "That code is not right or has run out. Enter the newest code from your authenticator app"


@pytest.fixture
def mandy(manager):
    return with_password(manager)


@pytest.fixture
def mandy_device(mandy):
    return TOTPDevice.objects.create(user=mandy, name="Authenticator app", confirmed=True)


def _pending_device(user) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user, confirmed=False)


# --- A manager with no authenticator yet ----------------------------------------------------------


def test_a_manager_without_an_authenticator_is_sent_to_set_one_up(client, mandy):
    response = sign_in(client, "mandy", follow=True)

    assert response.redirect_chain[-1] == (SETUP_URL, 302)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Set up your authenticator app" in body
    assert "Managers and administrators must give a code" in body
    assert 'src="data:image/svg+xml;base64,' in body  # the QR code, inline (no external service)


def test_until_it_is_set_up_a_manager_reaches_no_record(client, mandy, family):
    sign_in(client, "mandy")

    for path in ("/", f"/families/{family.pk}/", "/dashboard/", "/search/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(SETUP_URL), path
        assert "Smith family" not in response.content.decode()
    response = client.get(f"/families/{family.pk}/")
    assert response["Location"] == f"{SETUP_URL}?next={quote(f'/families/{family.pk}/', safe='')}"


def test_until_it_is_set_up_the_api_with_the_session_is_refused(client, mandy, family):
    sign_in(client, "mandy")

    for path in ("/api/v1/me/", "/api/v1/families/", f"/api/v1/families/{family.pk}/"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert response["Content-Type"] == "application/json"
        assert "authenticator" in response.json()["detail"]
        assert "Smith" not in response.content.decode()


def test_an_htmx_request_is_sent_to_the_setup_page_too(client, mandy, family):
    sign_in(client, "mandy")

    response = client.get(f"/families/{family.pk}/", HTTP_HX_REQUEST="true")

    assert response.status_code == 302
    assert response["HX-Redirect"].startswith(SETUP_URL)


def test_setup_with_a_wrong_code_fails_with_a_govuk_error(client, mandy, family):
    sign_in(client, "mandy")
    client.get(SETUP_URL)
    device = _pending_device(mandy)

    response = client.post(SETUP_URL, {"otp_token": wrong_code(device)})

    assert response.status_code == 200
    body = response.content.decode()
    assert "govuk-error-summary" in body
    assert "govuk-error-message" in body
    assert SETUP_ERROR in body
    assert "<title>Error: " in body
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get(f"/families/{family.pk}/").status_code == 302


@pytest.mark.parametrize(
    ("typed", "message"),
    [("", "Enter the 6-digit code from your authenticator app"), ("12ab56", "Enter the code as 6 digits")],
)
def test_setup_with_a_malformed_code_says_what_to_do(client, mandy, typed, message):
    sign_in(client, "mandy")

    response = client.post(SETUP_URL, {"otp_token": typed})

    assert response.status_code == 200
    assert message in response.content.decode()


def test_setup_with_the_right_code_reaches_the_page_asked_for(client, mandy, family):
    sign_in(client, "mandy", next=f"/families/{family.pk}/")
    response = client.get(f"/families/{family.pk}/")
    setup_url = response["Location"]
    client.get(setup_url)
    device = _pending_device(mandy)

    response = client.post(setup_url, {"otp_token": code_for(device), "next": f"/families/{family.pk}/"}, follow=True)

    assert response.redirect_chain[0] == (f"/families/{family.pk}/", 302)
    assert response.status_code == 200
    assert "Smith family" in response.content.decode()
    assert "Your authenticator app is set up." in response.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200


def test_setup_accepts_a_code_typed_with_spaces(client, mandy):
    sign_in(client, "mandy")
    client.get(SETUP_URL)
    code = code_for(_pending_device(mandy))

    response = client.post(SETUP_URL, {"otp_token": f"{code[:3]} {code[3:]}"})

    assert response.status_code == 302


def test_setup_right_after_a_wrong_code_works_once_the_app_shows_a_new_code(client, mandy):
    sign_in(client, "mandy")
    client.get(SETUP_URL)
    device = _pending_device(mandy)
    client.post(SETUP_URL, {"otp_token": wrong_code(device)})
    wait_out_code_throttle(mandy)

    response = client.post(SETUP_URL, {"otp_token": code_for(device)})

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_code_straight_after_a_wrong_one_is_told_to_wait_not_wrong(client, mandy, mandy_device):
    """django-otp refuses codes for a moment after a wrong one: the page says to wait."""
    sign_in(client, "mandy")
    client.post(VERIFY_URL, {"otp_token": wrong_code(mandy_device)})

    response = client.post(VERIFY_URL, {"otp_token": code_for(mandy_device)})

    assert response.status_code == 200
    body = response.content.decode()
    assert "Wait 1 second, then enter the newest code" in body
    assert VERIFY_ERROR not in body


# --- A manager with an authenticator ------------------------------------------------------------


def test_a_manager_with_an_authenticator_is_asked_for_its_code(client, mandy_device, family):
    response = sign_in(client, "mandy", follow=True)

    assert response.redirect_chain[-1] == (VERIFY_URL, 302)
    assert response.status_code == 200
    assert client.get(f"/families/{family.pk}/")["Location"].startswith(VERIFY_URL)
    assert client.get("/api/v1/me/").status_code == 403
    # Replacing the authenticator needs the current one first.
    assert client.get(SETUP_URL)["Location"] == VERIFY_URL


def test_a_wrong_code_is_refused_and_the_right_one_accepted(client, mandy, mandy_device, family):
    sign_in(client, "mandy")

    response = client.post(VERIFY_URL, {"otp_token": wrong_code(mandy_device)})

    assert response.status_code == 200
    assert VERIFY_ERROR in response.content.decode()
    assert "govuk-error-summary" in response.content.decode()
    assert client.get(f"/families/{family.pk}/").status_code == 302

    wait_out_code_throttle(mandy)
    response = client.post(VERIFY_URL, {"otp_token": code_for(mandy_device)})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get(f"/families/{family.pk}/").status_code == 200


def test_a_code_works_only_once(client, mandy_device):
    code = code_for(mandy_device)
    sign_in(client, "mandy")
    assert client.post(VERIFY_URL, {"otp_token": code}).status_code == 302
    client.post(LOGOUT_URL)

    other = Client()
    sign_in(other, "mandy")
    response = other.post(VERIFY_URL, {"otp_token": code})

    assert response.status_code == 200
    assert VERIFY_ERROR in response.content.decode()


def test_the_next_page_is_kept_through_sign_in_and_the_code(client, mandy_device, family):
    target = f"/families/{family.pk}/"
    anonymous = client.get(target)
    assert anonymous["Location"] == f"{LOGIN_URL}?next={target}"

    response = sign_in(client, "mandy", next=target)
    assert response["Location"] == target
    response = client.get(target)
    assert response["Location"] == f"{VERIFY_URL}?next={quote(target, safe='')}"
    page = client.get(response["Location"])
    assert f'value="{target}"' in page.content.decode()

    response = client.post(VERIFY_URL, {"otp_token": code_for(mandy_device), "next": target})

    assert response.status_code == 302
    assert response["Location"] == target


@pytest.mark.parametrize("offsite", ["https://evil.example/steal", "//evil.example/steal", "http://testserver.evil/"])
def test_an_off_site_next_is_refused(client, mandy_device, offsite):
    sign_in(client, "mandy")

    response = client.post(f"{VERIFY_URL}?next={quote(offsite, safe='')}", {"otp_token": code_for(mandy_device)})

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_an_off_site_next_is_refused_at_sign_in(client, mandy_device):
    response = sign_in(client, "mandy", next="https://evil.example/steal")

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_an_off_site_next_is_refused_at_setup_too(client, mandy):
    sign_in(client, "mandy")
    client.get(SETUP_URL)

    response = client.post(
        SETUP_URL, {"otp_token": code_for(_pending_device(mandy)), "next": "https://evil.example/steal"}
    )

    assert response["Location"] == "/"


def test_the_second_factor_is_asked_again_at_every_sign_in(client, mandy_device):
    sign_in(client, "mandy")
    client.post(VERIFY_URL, {"otp_token": code_for(mandy_device)})
    assert client.get("/").status_code == 200
    client.post(LOGOUT_URL)
    next_time_step(mandy_device)

    sign_in(client, "mandy")

    assert client.get("/")["Location"] == VERIFY_URL


def test_an_admin_must_set_up_an_authenticator_too(client, admin_user):
    with_password(admin_user)
    sign_in(client, "root")

    assert client.get("/")["Location"] == SETUP_URL
    assert client.get("/admin/")["Location"].startswith(SETUP_URL)


# --- Practitioners ------------------------------------------------------------------------------


def test_a_practitioner_is_not_asked_unless_they_set_one_up(client, practitioner, family):
    with_password(practitioner)
    sign_in(client, "alice")

    assert client.get("/").status_code == 200
    assert client.get(f"/families/{family.pk}/").status_code == 200


def test_a_practitioner_who_sets_one_up_is_asked_at_the_next_sign_in(client, practitioner, family):
    with_password(practitioner)
    sign_in(client, "alice")
    page = client.get(SETUP_URL)
    assert "After this, you will give a code from the app each time you sign in" in page.content.decode()
    device = _pending_device(practitioner)
    assert client.post(SETUP_URL, {"otp_token": code_for(device)}).status_code == 302
    assert client.get(f"/families/{family.pk}/").status_code == 200  # this session has just given it
    client.post(LOGOUT_URL)
    next_time_step(device)

    sign_in(client, "alice")

    assert client.get(f"/families/{family.pk}/")["Location"].startswith(VERIFY_URL)
    assert client.post(VERIFY_URL, {"otp_token": code_for(device)}).status_code == 302
    assert client.get(f"/families/{family.pk}/").status_code == 200


# --- API tokens -----------------------------------------------------------------------------------


def test_api_tokens_are_never_asked_for_a_code(mandy, mandy_device, partner, share, api, family):
    assert api.as_user(mandy).get("/api/v1/me/").status_code == 200
    assert api.as_user(mandy).get(f"/api/v1/families/{family.pk}/").status_code == 200
    assert api.as_user(partner).get(f"/api/v1/families/{family.pk}/").status_code == 200


def test_api_tokens_of_a_manager_with_no_authenticator_work(mandy, api):
    assert api.as_user(mandy).get("/api/v1/me/").status_code == 200


# --- The security log ---------------------------------------------------------------------------


def test_codes_given_and_refused_are_in_the_security_log(client, mandy, mandy_device):
    sign_in(client, "mandy")
    client.post(VERIFY_URL, {"otp_token": wrong_code(mandy_device)})
    wait_out_code_throttle(mandy)
    client.post(VERIFY_URL, {"otp_token": code_for(mandy_device)})

    kinds = list(SecurityEvent.objects.filter(username="mandy").order_by("id").values_list("kind", flat=True))

    assert kinds == [SecurityEventKind.LOGIN, SecurityEventKind.TWO_FACTOR_FAILED, SecurityEventKind.TWO_FACTOR_OK]


def test_an_authenticator_added_is_in_the_security_log(client, mandy):
    sign_in(client, "mandy")
    client.get(SETUP_URL)
    client.post(SETUP_URL, {"otp_token": code_for(_pending_device(mandy))})

    assert SecurityEvent.objects.filter(kind=SecurityEventKind.TWO_FACTOR_ADDED, username="mandy").exists()


# --- totp_code (the demo's stand-in for a phone) ----------------------------------------------------


@override_settings(DEBUG=True)
def test_totp_code_prints_the_current_code_with_debug_on(mandy_device):
    out = StringIO()
    call_command("totp_code", "mandy", stdout=out)

    assert out.getvalue().strip() == code_for(mandy_device)


@override_settings(DEBUG=True)
def test_totp_code_prints_a_code_that_signs_in(client, mandy_device):
    out = StringIO()
    call_command("totp_code", "mandy", stdout=out)
    sign_in(client, "mandy")

    assert client.post(VERIFY_URL, {"otp_token": out.getvalue().strip()}).status_code == 302


@override_settings(DEBUG=False)
def test_totp_code_refuses_with_debug_off(mandy_device):
    out = StringIO()
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("totp_code", "mandy", stdout=out)
    assert out.getvalue() == ""


@override_settings(DEBUG=True)
def test_totp_code_for_someone_with_no_authenticator_is_an_error(mandy):
    with pytest.raises(CommandError, match="no authenticator"):
        call_command("totp_code", "mandy")
