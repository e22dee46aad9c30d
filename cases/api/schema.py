"""OpenAPI post-processing: document the error responses the contract promises (DESIGN 5).

drf-spectacular documents the success response of each operation; the API also answers 400 with
field errors, 401 without a valid token, 403 for a write the caller may only read, 404 for anything
not visible (never 403, so ids cannot be probed), 409 for a stale `version` / `If-Match`, and 429
over the rate limit. Each is added only where it can happen.
"""

from __future__ import annotations

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "A message a developer can act on.",
}
FIELD_ERRORS = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "When the body could not be read at all."}},
    # Usually a list of messages; nested for list and object fields (e.g. {"children_seen": {"0": [...]}}).
    "additionalProperties": {},
    "description": "Field name (or `non_field_errors`) to its messages; nothing was saved.",
}
CONFLICT = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "current": {"type": "object", "additionalProperties": True, "description": "What is saved now."},
        "attempted": {"type": "object", "additionalProperties": True, "description": "What you sent (not saved)."},
    },
    "required": ["detail", "current", "attempted"],
}

PUBLIC = ("/api/schema/",)


def _response(description: str, schema_name: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("FieldErrors", FIELD_ERRORS)
    schemas.setdefault("Conflict", CONFLICT)
    for path, operations in result.get("paths", {}).items():
        if path.startswith(PUBLIC):
            continue
        for method, operation in operations.items():
            if method == "parameters":
                continue
            responses = operation.setdefault("responses", {})
            params = operation.get("parameters", [])
            has_query = any(p.get("in") == "query" for p in params)
            if has_query or "requestBody" in operation:
                responses.setdefault("400", _response("Bad input: field errors; nothing was saved.", "FieldErrors"))
            responses.setdefault("401", _response("No valid token (or session).", "Error"))
            if method != "get":
                responses.setdefault("403", _response("You can see this record but not change it.", "Error"))
            if "{" in path or any(p.get("name") == "page" for p in params):
                responses.setdefault("404", _response("Not found, or not visible to you.", "Error"))
            if method in ("put", "patch"):
                responses.setdefault(
                    "409", _response("Someone else changed the record since your `version`.", "Conflict")
                )
            if method in ("post", "delete"):
                responses.setdefault("409", _response("The record's state has moved on.", "Conflict"))
            responses.setdefault("429", _response("Over the rate limit: wait for `Retry-After` seconds.", "Error"))
    return result
