"""Pagination on every list: `count`, `next`, `previous`, `results` (DESIGN 5).

Lists page by **cursor** (keyset on `id`): `next` carries an opaque `?cursor=`, and each page is
`WHERE id > last ORDER BY id LIMIT n`, as fast at page 1,000 as at page 1, with no OFFSET scan,
and stable while records are added during a sync. `count` (the total) is given on the first page,
where a client starts, and is `null` on later cursor pages, so paging never re-counts.

`?page=N` still works as it did in v1 (page numbers with a count on every page), for clients
written against it; it is an OFFSET, so it slows with depth.

A view may know a cheaper way to count its whole, unfiltered list (`count_unfiltered()`, e.g.
a partner's families counted from its shares): the first page uses it when the request has no
query parameter but the page's own, so nothing narrows the list.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from urllib import parse

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination
from rest_framework.response import Response

from .filters import has_filter_parameters


class PageNumberCountPagination(PageNumberPagination):
    """Page numbers with a count: for short lists ordered by something other than id (the lead
    professional's history, the chronology) and for v1 clients that send `?page=`."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class StandardPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "id"

    invalid_cursor_message = (
        "This cursor is not one we gave out: follow the `next` link of a page, or start again without it."
    )
    # Longer than any cursor we give out (an offset, a flag and an id), shorter than anything abusive.
    max_cursor_length = 200
    # A cursor's position is a record id: a PostgreSQL bigint at most.
    max_position = 2**63 - 1

    def decode_cursor(self, request):
        """The cursor as DRF decodes it, but anything that is not a cursor we could have given out
        (not base64, a position that is not an id, an id out of range, a NUL byte) is a 400 with a
        message, never a 404 or a database error."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            if len(encoded) > self.max_cursor_length:
                raise ValueError
            querystring = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse.parse_qs(querystring, keep_blank_values=True, strict_parsing=True)
            if set(tokens) - {"o", "r", "p"} or any(len(v) != 1 for v in tokens.values()):
                raise ValueError
            offset = tokens.get("o", ["0"])[0]
            if not offset.isdigit() or int(offset) > self.offset_cutoff:
                raise ValueError
            reverse = tokens.get("r", ["0"])[0]
            if reverse not in ("0", "1"):
                raise ValueError
            position = tokens.get("p", [None])[0]
            if position is not None:
                # `ordering` is the id: the position is one (ascii digits, in range).
                digits = position.removeprefix("-")
                if not (digits.isascii() and digits.isdigit()) or abs(int(position)) > self.max_position:
                    raise ValueError
        except (TypeError, ValueError, UnicodeError, binascii.Error) as exc:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from exc
        return Cursor(offset=int(offset), reverse=reverse == "1", position=position)

    def paginate_queryset(self, queryset, request, view=None):
        self._page_numbers = None
        if request.query_params.get("page") is not None:
            self._page_numbers = PageNumberCountPagination()
            # The same order as the cursor pages, so a client can switch between them.
            return self._page_numbers.paginate_queryset(queryset.order_by(self.ordering), request, view)
        first_page = request.query_params.get(self.cursor_query_param) is None
        self.count = self._count(queryset, request, view) if first_page else None
        return super().paginate_queryset(queryset, request, view)

    def _count(self, queryset, request, view) -> int:
        count_unfiltered = getattr(view, "count_unfiltered", None)
        if count_unfiltered is not None and not has_filter_parameters(request):
            return count_unfiltered()
        return queryset.count()

    def get_paginated_response(self, data):
        if self._page_numbers is not None:
            return self._page_numbers.get_paginated_response(data)
        return Response(
            {"count": self.count, "next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "nullable": True,
                    "description": "How many in all: on the first page (and with ?page=); null on later cursor pages.",
                    "example": 123,
                },
                "next": {"type": "string", "nullable": True, "format": "uri", "description": "The next page."},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "A page number (v1). Prefer following `next`: cursor pages stay fast at any depth.",
                "schema": {"type": "integer"},
            },
        ]
