"""drf-spectacular: every API write documents the `Idempotency-Key` header."""

from __future__ import annotations

from .middleware import HEADER, MAX_KEY_LENGTH, WRITE_METHODS

PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Any unique string (a UUID is best), to make a retry safe: a repeat with the same key and body within "
        "24 hours gets the first answer again (with `Idempotent-Replayed: true`) and writes nothing; the same "
        "key with a different request is 422; a repeat while the first is still running is 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[\\x20-\\x7e]+$"},
}
BAD_KEY = {
    "description": "Bad input, e.g. a malformed Idempotency-Key: field errors; nothing was saved.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FieldErrors"}}},
}
MISMATCH = {
    "description": "This Idempotency-Key was used for a different request.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def add_idempotency_key_header(result, generator, request, public):
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method.upper() in WRITE_METHODS and isinstance(operation, dict):
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == HEADER for p in parameters):
                    parameters.append(dict(PARAMETER))
                responses = operation.setdefault("responses", {})
                responses.setdefault("400", BAD_KEY)
                responses.setdefault("422", MISMATCH)
    return result
