"""API tokens for tests. Only a hash of a key is stored, so a key cannot be read back: the keys
made here are remembered, and the same user gets the same key while its token lasts (as
`Token.objects.get_or_create` gave before django-rest-knox). No security event: a fixture."""

from __future__ import annotations

from knox.models import AuthToken

from accounts.services import token_matches

_keys: dict[int, str] = {}


def api_token_for(user) -> str:
    """A working API key for `user`: the one made before if it still works, else a new one
    (any other token the user has is left alone)."""
    key = _keys.get(user.pk)
    if key is None or not token_matches(user=user, key=key):
        _, key = AuthToken.objects.create(user=user)
        _keys[user.pk] = key
    return key
