from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from cases.tests.factories import AgencyFactory, FamilyFactory, MemberFactory
from visits.models import Appointment, AppointmentKind, AppointmentStatus, Visit, VisitStatus


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visit

    family = factory.SubFactory(FamilyFactory)
    agency = factory.LazyAttribute(lambda o: o.family.team.agency)
    planned = True
    purpose = "Review the safety plan with mum"
    expected_outcome = "Safety plan agreed and signed"
    scheduled_for = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=7))
    status = VisitStatus.COMPLETED


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    member = factory.SubFactory(MemberFactory)
    family = factory.LazyAttribute(lambda o: o.member.family)
    for_child = factory.LazyAttribute(lambda o: o.member.role == "child")
    agency = factory.SubFactory(AgencyFactory, kind="health_visiting")
    kind = AppointmentKind.HEALTH_REVIEW
    scheduled_for = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=10))
    status = AppointmentStatus.ATTENDED
