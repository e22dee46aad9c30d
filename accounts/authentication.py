"""API token authentication: django-rest-knox behind the v1 header, `Authorization: Token <key>`.

Only a hash of each key is stored (the key is shown once, when issued); a key expires after
`API_TOKEN_TTL_DAYS`; a switched-off account is refused at once (knox checks `is_active`).
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.settings import knox_settings

from .services import token_expire


class TokenAuthentication(KnoxTokenAuthentication):
    def _cleanup_token(self, auth_token) -> bool:
        """An expired token is purged (a security event) and refused. knox would also read every
        other token of the same person on each request, to purge those: a query per request for
        nothing, since issuing a token revokes the person's others (`accounts.services.token_issue`)."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            token_expire(token=auth_token)
            return True
        return False


class TokenScheme(OpenApiAuthenticationExtension):
    """The schema documents the same `tokenAuth` scheme as before: `Authorization: Token <key>`."""

    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"
    match_subclasses = True

    def get_security_definition(self, auto_schema):
        definition = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX
        )
        definition["description"] = 'Token-based authentication with required prefix "Token"'
        return definition
