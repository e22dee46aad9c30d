"""Logging visits and appointments in the browser: the owning team, or a partner with a share."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_read
from cases import selectors as case_selectors
from cases.access import can_record_events
from cases.govuk_forms import add_service_errors, show_conflict
from cases.service_utils import ConflictError
from core.ids import parse_id

from . import selectors, services
from .forms import AppointmentForm, VisitForm


def _recordable_family(request, family_id):
    family = case_selectors.family_get_for_user(user=request.user, family_id=family_id)
    if not can_record_events(request.user, family):
        raise PermissionDenied("You cannot record events for this family.")
    return family


def _chronology(family) -> str:
    return reverse("family-detail", args=[family.pk]) + "#chronology"


@login_required
def visit_form(request: HttpRequest, family_id: int, visit_id: int | None = None) -> HttpResponse:
    family = _recordable_family(request, family_id)
    visit = selectors.visit_get_for_user(user=request.user, visit_id=visit_id) if visit_id else None
    if visit is not None and visit.family_id != family.pk:
        raise PermissionDenied
    if visit is not None:
        services.require_visit_edit(request.user, family, visit.agency_id)
    children = [m for m in family.members.order_by("id") if m.is_child]
    initial = {}
    if visit is not None:
        local = timezone.localtime(visit.scheduled_for)
        initial = {
            **{
                f: getattr(visit, f)
                for f in (
                    "purpose",
                    "expected_outcome",
                    "purpose_shared_with_family",
                    "status",
                    "outcome",
                    "next_steps",
                    "voice_of_child",
                    "home_conditions",
                )
            },
            "planned": "yes" if visit.planned else "no",
            "version": visit.version,
            "date": local.date(),
            "time": local.time(),
            "children_seen": [c.pk for c in visit.children_seen.all()],
            "children_seen_alone": [c.pk for c in visit.children_seen_alone.all()],
        }
    form = VisitForm(request.POST or None, children=children, initial=initial)
    conflict = None
    if visit is not None and request.method == "GET":
        audit_read(actor=request.user, instance=visit, family_id=family.pk)
    if request.method == "POST" and form.is_valid():
        by_id = {c.pk: c for c in children}
        seen = [by_id[i] for i in form.cleaned_data["children_seen"]]
        alone = [by_id[i] for i in form.cleaned_data["children_seen_alone"]]
        try:
            if visit is None:
                services.visit_log(
                    actor=request.user,
                    family=family,
                    children_seen=seen,
                    children_seen_alone=alone,
                    **form.service_data(),
                )
            else:
                services.visit_update(
                    actor=request.user,
                    visit=visit,
                    data={**form.service_data(), "version": form.cleaned_data["version"]},
                    children_seen=seen,
                    children_seen_alone=alone,
                )
        except ConflictError as exc:
            show_conflict(form, exc)
            conflict = exc
        except ValidationError as exc:
            add_service_errors(form, exc, aliases={"scheduled_for": "date"})
        else:
            messages.success(request, "Visit saved.")
            return redirect(_chronology(family))
    return render(
        request,
        "visits/visit_form.html",
        {"form": form, "family": family, "visit": visit, "back": _chronology(family), "conflict": conflict},
        status=409 if conflict else 200,
    )


@login_required
def appointment_form(request: HttpRequest, family_id: int, appointment_id: int | None = None) -> HttpResponse:
    family = _recordable_family(request, family_id)
    appointment = (
        selectors.appointment_get_for_user(user=request.user, appointment_id=appointment_id) if appointment_id else None
    )
    if appointment is not None and appointment.family_id != family.pk:
        raise PermissionDenied
    if appointment is not None:
        services.require_appointment_edit(request.user, family, appointment.agency_id)
    members = list(family.members.order_by("id"))
    member = appointment.member if appointment else None
    if member is None and parse_id(request.GET.get("member")):
        member = get_object_or_404(family.members, pk=request.GET["member"])
    initial = {"member": member.pk if member else None, "agency": request.user.agency_id}
    if appointment is not None:
        local = timezone.localtime(appointment.scheduled_for)
        initial.update(
            agency=appointment.agency_id,
            kind=appointment.kind,
            date=local.date(),
            time=local.time(),
            critical=appointment.critical,
            status=appointment.status,
            notes=appointment.notes,
            version=appointment.version,
        )
    form = AppointmentForm(request.POST or None, members=members, member=member, initial=initial)
    conflict = None
    if appointment is not None and request.method == "GET":
        audit_read(actor=request.user, instance=appointment, family_id=family.pk)
    if appointment is not None:
        form.fields["member"].disabled = True
        form.fields["agency"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            if appointment is None:
                services.appointment_record(
                    actor=request.user,
                    member=form.members[form.cleaned_data["member"]],
                    agency=form.cleaned_data["agency"],
                    **form.service_data(),
                )
            else:
                services.appointment_update(
                    actor=request.user,
                    appointment=appointment,
                    data={**form.service_data(), "version": form.cleaned_data["version"]},
                )
        except ConflictError as exc:
            if appointment is None:  # an exact duplicate of one already recorded
                form.add_error(None, exc.message)
            else:
                show_conflict(form, exc)
                conflict = exc
        except ValidationError as exc:
            add_service_errors(form, exc, aliases={"scheduled_for": "date"})
        else:
            messages.success(request, "Appointment saved.")
            return redirect(_chronology(family))
    return render(
        request,
        "cases/form_page.html",
        {
            "form": form,
            "family": family,
            "title": "Change an appointment" if appointment else "Record an appointment",
            "submit": "Save appointment",
            "back": _chronology(family),
            "conflict": conflict,
        },
        status=409 if conflict else 200,
    )
