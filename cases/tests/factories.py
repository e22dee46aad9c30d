"""factory-boy factories for the case record. Rows are made directly (not via services) so tests
can set up any state, including ones the services would refuse."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from cases.models import Agency, AgencyKind, Family, FamilyShare, Member, MemberRole, Role, Team, User


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Agency {n}")
    kind = AgencyKind.SOCIAL_CARE


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="en_GB")
    last_name = factory.Faker("last_name", locale="en_GB")
    role = Role.PRACTITIONER
    team = factory.SubFactory(TeamFactory)
    agency = factory.LazyAttribute(lambda o: o.team.agency if o.team else AgencyFactory())
    password = factory.django.Password("correct-horse-battery")


class PartnerUserFactory(UserFactory):
    role = Role.PARTNER
    team = None
    agency = factory.SubFactory(AgencyFactory, kind=AgencyKind.HEALTH_VISITING)


class FamilyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Family

    reference = factory.Sequence(lambda n: f"SG-T{n:06d}")
    name = factory.Sequence(lambda n: f"Family {n}")
    team = factory.SubFactory(TeamFactory)


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    family = factory.SubFactory(FamilyFactory)
    given_name = factory.Faker("first_name", locale="en_GB")
    family_name = factory.Faker("last_name", locale="en_GB")
    role = MemberRole.CHILD
    date_of_birth = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=365 * 4))


class ShareFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FamilyShare

    family = factory.SubFactory(FamilyFactory)
    agency = factory.SubFactory(AgencyFactory)
    purpose = "Health visiting for the youngest child"
    legal_basis = "Children Act 1989 s.17; UK GDPR 6(1)(e), 9(2)(h)"
    starts = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    # Every share has a last day (the service refuses one without); six months is typical.
    ends = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=180))
