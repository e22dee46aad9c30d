"""The API reads JSON only (DESIGN 5), and reads it defensively: a body nested deeper than any
record of ours could be, or larger than any record could need, is a 400 with a plain message,
never a 500 (a `RecursionError` from the decoder, or memory spent on a body we will refuse anyway)."""

from __future__ import annotations

import codecs

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

# Our deepest record is a list of ids inside an object: a few levels. 32 leaves room to grow.
MAX_DEPTH = 32


def _too_deep(text: str, limit: int) -> bool:
    """Whether the JSON text nests arrays/objects more than `limit` deep, counted without
    recursion (brackets inside strings do not count)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            raw = stream.read() if limit is None else stream.read(limit + 1)
            if limit is not None and len(raw) > limit:
                raise ParseError(f"The request body is too large: at most {limit} bytes.")
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The request body is not valid {encoding} text.") from exc
        # Counting brackets is C-fast; the character walk runs only when there are enough to matter.
        if text.count("[") + text.count("{") > MAX_DEPTH and _too_deep(text, MAX_DEPTH):
            raise ParseError(f"The JSON is nested too deep: at most {MAX_DEPTH} levels of arrays and objects.")
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError as exc:  # belt and braces: the depth check should have caught it
            raise ParseError("The JSON is nested too deep.") from exc
        except ValueError as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from exc
