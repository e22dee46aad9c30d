from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from audit.models import AuditEvent
from referrals.models import Referral
from referrals.services import referral_create, referral_update

pytestmark = pytest.mark.django_db


def test_anonymous_referral_weighed_by_concerns_not_source(practitioner, family):
    anonymous = referral_create(
        actor=practitioner, family=family, source="anonymous", concerns=["physical_abuse"], summary="Bruising seen"
    )
    professional = referral_create(
        actor=practitioner, family=family, source="professional", concerns=["physical_abuse"], summary="Bruising"
    )
    assert anonymous.priority == professional.priority == "high"


def test_referral_needs_known_concerns(practitioner, family):
    with pytest.raises(ValidationError) as err:
        referral_create(actor=practitioner, family=family, source="public", concerns=["bad"], summary="x")
    assert "concerns" in err.value.message_dict
    with pytest.raises(ValidationError):
        referral_create(actor=practitioner, family=family, source="public", concerns=[], summary="x")
    assert not Referral.objects.exists()


def test_decision_gets_a_date(practitioner, family):
    referral = referral_create(actor=practitioner, family=family, source="child", concerns=["neglect"], summary="x")
    referral_update(actor=practitioner, referral=referral, data={"decision": "early_help"})
    referral.refresh_from_db()
    assert referral.decision_at is not None


def test_confidential_referrer_never_written_to_the_audit_log(practitioner, family):
    referral = referral_create(
        actor=practitioner,
        family=family,
        source="anonymous",
        referrer_name="Secret Neighbour",
        referrer_contact="07700 900999",
        concerns=["neglect"],
        summary="x",
    )
    referral_update(actor=practitioner, referral=referral, data={"referrer_name": "Another Secret"})
    dumped = str(list(AuditEvent.objects.values()))
    assert "Secret Neighbour" not in dumped and "Another Secret" not in dumped and "900999" not in dumped


def test_partner_cannot_record_a_referral(partner, share, family):
    with pytest.raises(PermissionDenied):
        referral_create(actor=partner, family=family, source="professional", concerns=["neglect"], summary="x")
