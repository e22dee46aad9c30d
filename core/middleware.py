"""`Idempotency-Key` on every API write (issue 14, item 2).

A client that retries a write (a timeout, a dropped connection) sends the same key: the first answer
is replayed, with `Idempotent-Replayed: true`, and nothing is written twice. The same key with a
different request is refused (422); a repeat that arrives while the first is still running gets 409.
Keys belong to the authenticated user and are kept `IDEMPOTENCY_KEY_TTL_HOURS` (default 24).

A middleware rather than a viewset mixin, so every write under /api/v1/ is covered, whichever view
serves it. It authenticates with the API's own authenticators (a token is not known before DRF runs);
a request they refuse goes on to the view, which refuses it in the usual way.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings

from . import services

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
API_PREFIX = "/api/v1/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
# Answers worth replaying carry these headers too; a throttle or a server error is not kept.
KEPT_HEADERS = ("Content-Type", "ETag", "Location")
# A conflict is not kept either: its body shows what is saved now (case data that a replay could
# show after the caller lost sight of the family), and a retry should see the record as it is then.
NOT_KEPT = frozenset({409, 429})


def _key_error(message: str) -> JsonResponse:
    return JsonResponse({HEADER: [message]}, status=400)


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()


def _api_user(request: HttpRequest):
    drf_request = Request(request)
    for authenticator_class in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        try:
            result = authenticator_class().authenticate(drf_request)
        except APIException:
            return None
        if result is not None:
            return result[0]
    return None


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None or request.method not in WRITE_METHODS or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if not _valid_key(key):
            return _key_error(f"Send a key of 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID.")
        user = _api_user(request)
        if user is None or not user.is_authenticated:
            return self.get_response(request)  # the view refuses it (401/403), nothing to remember
        path = request.get_full_path()
        fingerprint = services.request_fingerprint(method=request.method, path=path, body=request.body)
        row, claimed = services.idempotency_key_claim(
            user=user, key=key, method=request.method, path=path, request_hash=fingerprint
        )
        if not claimed:
            return self._answer_repeat(row, fingerprint, user)
        try:
            response = self.get_response(request)
        except BaseException:
            services.idempotency_key_release(row=row)
            raise
        if response.status_code >= 500 or response.status_code in NOT_KEPT or response.streaming:
            services.idempotency_key_release(row=row)
            return response
        headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
        services.idempotency_key_complete(
            row=row,
            status_code=response.status_code,
            body=_without_confidential(response.content),
            headers=headers,
            **_what_it_shows(request, response),
        )
        return response

    @staticmethod
    def _answer_repeat(row, fingerprint: str, user) -> HttpResponse:
        if row.request_hash != fingerprint:
            return JsonResponse(
                {
                    "detail": f"This {HEADER} was used for a different request (another address, method or "
                    "body). Use a new key for a new request."
                },
                status=422,
            )
        if row.status_code is None:
            response = JsonResponse(
                {
                    "detail": f"A request with this {HEADER} is still being processed. Try again in a moment.",
                    "current": {},
                    "attempted": {},
                },
                status=409,
            )
            response["Retry-After"] = "1"
            return response
        if not services.idempotency_replay_allowed(row=row, user=user):
            return JsonResponse({"detail": "Not found."}, status=404)
        response = HttpResponse(bytes(row.response_body), status=row.status_code)
        for name, value in (row.response_headers or {}).items():
            response[name] = value
        response[REPLAY_HEADER] = "true"
        return response


def _model_label(basename: str) -> str:
    """The model an API route's basename names ("appointment", "family-share"), as audit rows name
    it ("visits.appointment", "cases.familyshare"); the basename itself when none matches."""
    from django.apps import apps

    candidates = (basename.removeprefix("family-"), basename.replace("-", ""))
    for model in apps.get_models():
        if model._meta.model_name in candidates:
            return model._meta.label_lower
    return basename


def _what_it_shows(request: HttpRequest, response: HttpResponse) -> dict:
    """The record and family a kept answer shows: the route's family (nested routes), the body's
    `family`, or the family itself; nothing for an answer about no family."""
    match = getattr(request, "resolver_match", None)
    if match is None or not 200 <= response.status_code < 300:
        return {}
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    basename = (match.url_name or "").rsplit("-", 1)[0]
    family_id = match.kwargs.get("family_pk")
    if family_id is None and isinstance(body.get("family"), int):
        family_id = body["family"]
    if family_id is None and basename == "family" and isinstance(body.get("id"), int):
        family_id = body["id"]
    if family_id is None and isinstance(body.get("member"), int):  # an appointment
        from cases.models import Member  # core sits below cases for everything else

        family_id = Member.objects.filter(pk=body["member"]).values_list("family_id", flat=True).first()
    if family_id is None:
        return {}
    return {"record_model": _model_label(basename), "record_id": body.get("id", ""), "family_id": int(family_id)}


def _without_confidential(content: bytes) -> bytes:
    """The answer as kept for replays, without the confidential referrer: the owning team's
    referral writes answer with it, and a second copy must not sit in this table for a day. A
    replay leaves those fields out; the referral itself (GET) still shows them to the team."""
    from audit.services import REDACTED_FIELDS  # core sits below audit for everything else

    try:
        body = json.loads(content or b"null")
    except ValueError:
        return content
    if not isinstance(body, dict) or not REDACTED_FIELDS & body.keys():
        return content
    return json.dumps({k: v for k, v in body.items() if k not in REDACTED_FIELDS}).encode()
