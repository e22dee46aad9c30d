"""Idempotency keys: claim one for a request, keep its answer, forget it after its time."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import IdempotencyKey


def idempotency_ttl() -> dt.timedelta:
    return dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\n", path.encode(), b"\n", body):
        digest.update(part)
    return digest.hexdigest()


def idempotency_key_claim(*, user, key: str, method: str, path: str, request_hash: str) -> tuple[IdempotencyKey, bool]:
    """(the key's row, whether this request claimed it). Exactly one of several simultaneous first
    requests claims a key (the unique constraint); the others get the row as it stands. A key past
    its time is forgotten and claimed afresh."""
    for _ in range(2):
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    user=user, key=key, method=method, path=path, request_hash=request_hash
                )
            return row, True
        except IntegrityError:
            row = IdempotencyKey.objects.filter(user=user, key=key).first()
            if row is None:
                continue  # purged in between: claim again
            if row.created_at > timezone.now() - idempotency_ttl():
                return row, False
            # Expired: delete exactly that row (a conditional delete, so one request wins) and claim again.
            IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).delete()
    return row, False


def idempotency_key_complete(
    *,
    row: IdempotencyKey,
    status_code: int,
    body: bytes,
    headers: dict,
    record_model: str = "",
    record_id: str = "",
    family_id: int | None = None,
) -> None:
    IdempotencyKey.objects.filter(pk=row.pk).update(
        status_code=status_code,
        response_body=body,
        response_headers=headers,
        record_model=record_model[:60],
        record_id=str(record_id)[:40],
        family_id=family_id,
    )


def idempotency_replay_allowed(*, row: IdempotencyKey, user) -> bool:
    """A kept answer about a family is replayed only while the caller may still see the family
    (a share that ended since, a restriction), and the replay is written to the audit log as a read."""
    if row.family_id is None:
        return True
    from audit.services import audit_reads
    from cases.access import visible_families  # core sits below cases for everything else

    if not visible_families(user).filter(pk=row.family_id).exists():
        return False
    audit_reads(actor=user, model=row.record_model or "family", rows=[(row.record_id or row.family_id, row.family_id)])
    return True


def idempotency_key_release(*, row: IdempotencyKey) -> None:
    """The request did not finish (a server error, a throttle): the key may be used again."""
    IdempotencyKey.objects.filter(pk=row.pk).delete()


def idempotency_keys_purge(*, now: dt.datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - idempotency_ttl()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
