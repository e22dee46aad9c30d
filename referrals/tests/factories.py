from __future__ import annotations

import factory

from cases.tests.factories import FamilyFactory
from referrals.models import Referral, ReferralSource


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referral

    family = factory.SubFactory(FamilyFactory)
    source = ReferralSource.ANONYMOUS
    referrer_name = "Pat Neighbour-Confidential"
    referrer_contact = "07700 900123 (confidential)"
    supporting_professional = "Sam Supporter, school nurse (confidential)"
    concerns = factory.LazyFunction(lambda: ["neglect", "home_conditions"])
    summary = "Caller worried the children are often left alone and the house is cold."
