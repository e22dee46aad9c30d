"""Record ids as callers send them: a database id is a positive 64-bit integer, and anything
larger (`?family=99999999999999999999`) is bad input to answer with a message, never a number to
send to the database (where it overflows into a server error)."""

from __future__ import annotations

MAX_ID = 2**63 - 1  # PostgreSQL's bigint, the type of every primary key here
TOO_LARGE = f"Enter a number no larger than {MAX_ID}."


def parse_id(value) -> int | None:
    """The id in `value` (digits only, within a bigint), or None."""
    text = str(value or "")
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def out_of_range(value: str) -> bool:
    """A value made of digits (or comma-separated digits) with a number beyond any id."""
    return any(
        part.isascii() and part.isdigit() and (len(part) > len(str(MAX_ID)) or int(part) > MAX_ID)
        for part in str(value).split(",")
    )
