"""The family page and the forms that change the family record.

Thin views: fetch through a selector (an outsider gets 404), call a service, show its errors at
the fields. Nothing here decides who may do what beyond asking `cases.access`.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Prefetch, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from audit.selectors import can_see_access_log, family_access_by_person, family_access_log, family_refused_attempts
from audit.services import audit_read, audit_reads
from cases import selectors, services
from cases.access import can_change_family, can_record_events, get_visible_or_404, may_restrict
from cases.forms import (
    FamilyForm,
    GapForm,
    LeadProfessionalForm,
    MemberForm,
    RelationshipForm,
    ShareForm,
    ShareRenewForm,
    SignificantAdultsForm,
    lead_candidates,
)
from cases.govuk_forms import add_service_errors, show_conflict
from cases.models import Agency, Family, FamilyShare, InformationGap, Member, Relationship
from cases.service_utils import ConflictError
from core.ids import parse_id

CHRONOLOGY_PAGE_SIZE = 20
KIND_LABELS = {
    "referral": "Referrals",
    "visit": "Visits",
    "appointment": "Appointments",
    "lead_professional": "Lead professional",
    "share": "Sharing",
    "note": "Notes",
    "flag": "Flags",
    "prompt": "Escalation decisions",
}


def _family(request: HttpRequest, family_id: int) -> Family:
    return selectors.family_get_for_user(user=request.user, family_id=family_id)


def _changeable_family(request: HttpRequest, family_id: int) -> Family:
    family = _family(request, family_id)
    if not can_change_family(request.user, family):
        raise PermissionDenied("Only the owning team can change this family's record.")
    return family


def _chronology_context(request: HttpRequest, family: Family) -> dict:
    kind = request.GET.get("kind") or ""
    agency = request.GET.get("agency") or ""
    kinds = {kind} if kind in KIND_LABELS else None
    agency_id = parse_id(agency)
    entries = selectors.family_chronology(
        user=request.user, family=family, kinds=kinds, agency_id=agency_id, shares=list(family.shares.all())
    )
    page = Paginator(entries, CHRONOLOGY_PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "chronology": page,
        "chronology_kind": kind if kinds else "",
        "chronology_agency": agency_id,
        "kind_labels": KIND_LABELS,
    }


@login_required
def family_detail(request: HttpRequest, family_id: int) -> HttpResponse:
    from escalation.models import Flag

    family = get_visible_or_404(
        selectors.family_list(user=request.user).prefetch_related(
            Prefetch("relationships", queryset=Relationship.objects.order_by("id")),
            Prefetch("shares", queryset=FamilyShare.objects.select_related("agency").order_by("id")),
        ),
        user=request.user,
        family_field="",
        pk=family_id,
    )
    chronology = _chronology_context(request, family)
    if request.htmx and request.htmx.target == "chronology-list":
        audit_reads(actor=request.user, model="cases.chronology", rows=[(family.pk, family.pk)])
        return render(request, "cases/_chronology.html", {"family": family, **chronology})
    # The page shows the whole record (household, flags, chronology): one VIEW row for the family.
    audit_read(actor=request.user, instance=family, family_id=family.pk)
    team = selectors.team_around_family(user=request.user, family=family, shares=list(family.shares.all()))
    open_gaps = list(selectors.gap_list(family=family))
    context = {
        "family": family,
        "household": selectors.household(family=family),
        "gaps_now": selectors.family_gaps_now(family=family, unresolved_gaps=open_gaps),
        "open_gaps": open_gaps,
        "team_around": team,
        "agencies": [(e.agency_id, e.agency) for e in team],
        "flags": list(
            Flag.objects.filter(family=family, status="open")
            .select_related("member")
            .annotate(rank=Case(When(severity="high", then=Value(0)), default=Value(1), output_field=IntegerField()))
            .order_by("rank", "rule")
        ),
        "can_change": can_change_family(request.user, family),
        "can_restrict": may_restrict(request.user, family),
        "access_log": (
            family_access_by_person(family_id=family.pk, limit=5) if can_see_access_log(request.user, family) else None
        ),
        "can_record": can_record_events(request.user, family),
        **chronology,
    }
    return render(request, "cases/family_detail.html", context)


@login_required
def family_create(request: HttpRequest) -> HttpResponse:
    if request.user.role == "partner":
        raise PermissionDenied("Partner agencies do not create families; the owning service does.")
    form = FamilyForm(request.POST or None, choose_team=request.user.is_platform_admin)
    if request.method == "POST" and form.is_valid():
        try:
            family = services.family_create(actor=request.user, **form.cleaned_data)
        except PermissionDenied:
            raise
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{family.name} created. Now record who is in the family.")
            return redirect("family-detail", family_id=family.pk)
    return render(request, "cases/form_page.html", {"form": form, "title": "Add a family", "submit": "Add family"})


@login_required
def member_form(request: HttpRequest, family_id: int, member_id: int | None = None) -> HttpResponse:
    family = _changeable_family(request, family_id)
    member = get_object_or_404(Member, pk=member_id, family=family) if member_id else None
    initial = MemberForm.initial_for(member) if member else {"family_name": family.name.removesuffix(" family")}
    for key in ("role", "lives_in_household"):
        if key in request.GET:
            initial[key] = request.GET[key]
    form = MemberForm(request.POST or None, initial=initial)
    conflict = None
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            if member:
                services.member_update(actor=request.user, member=member, data=data)
            else:
                data.pop("version", None)
                member = services.member_create(actor=request.user, family=family, **data)
        except ConflictError as exc:
            show_conflict(form, exc)
            conflict = exc
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{member.full_name} saved.")
            return redirect(reverse("family-detail", args=[family.pk]) + "#household")
    elif member is not None and request.method == "GET":
        audit_read(actor=request.user, instance=member, family_id=family.pk)
    title = f"Change {member.full_name}’s details" if member else "Add someone to the family"
    return render(
        request,
        "cases/form_page.html",
        {
            "form": form,
            "family": family,
            "title": title,
            "submit": "Save",
            "back": _back(family, "household"),
            "conflict": conflict,
        },
        status=409 if conflict else 200,
    )


@login_required
def gap_form(request: HttpRequest, family_id: int) -> HttpResponse:
    """Record why something is not known and when to ask again."""
    family = _changeable_family(request, family_id)
    member = None
    member_id = request.POST.get("member") or request.GET.get("member")
    if member_id and parse_id(member_id):
        member = get_object_or_404(Member, pk=member_id, family=family)
    form = GapForm(request.POST or None, initial={"subject": request.GET.get("subject", "")})
    if request.method == "POST" and form.is_valid():
        try:
            services.gap_record(actor=request.user, family=family, member=member, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Recorded. You will be prompted to ask again on the date you gave.")
            return redirect(reverse("family-detail", args=[family.pk]) + "#household")
    about = f" about {member.full_name}" if member else ""
    return render(
        request,
        "cases/form_page.html",
        {
            "form": form,
            "family": family,
            "title": f"Record what is not known{about}",
            "submit": "Save",
            "hidden": {"member": member.pk} if member else {},
            "back": _back(family, "household"),
        },
    )


@login_required
@require_POST
def gap_resolve(request: HttpRequest, family_id: int, gap_id: int) -> HttpResponse:
    family = _changeable_family(request, family_id)
    gap = get_object_or_404(InformationGap, pk=gap_id, family=family)
    services.gap_resolve(actor=request.user, gap=gap)
    messages.success(request, f"‘{gap.subject}’ marked as known now.")
    return redirect(reverse("family-detail", args=[family.pk]) + "#household")


@login_required
def relationship_form(request: HttpRequest, family_id: int) -> HttpResponse:
    family = _changeable_family(request, family_id)
    members = list(family.members.order_by("id"))
    form = RelationshipForm(request.POST or None, members=members, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        by_id = {m.pk: m for m in members}
        try:
            services.relationship_create(
                actor=request.user,
                from_member=by_id[form.cleaned_data["from_member"]],
                to_member=by_id[form.cleaned_data["to_member"]],
                kind=form.cleaned_data["kind"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Relationship recorded.")
            return redirect(reverse("family-detail", args=[family.pk]) + "#household")
    return render(
        request,
        "cases/form_page.html",
        {
            "form": form,
            "family": family,
            "title": "Record a relationship",
            "submit": "Save",
            "back": _back(family, "household"),
        },
    )


@login_required
def significant_adults_form(request: HttpRequest, family_id: int) -> HttpResponse:
    family = _changeable_family(request, family_id)
    initial = {
        "significant_adults_confirmed": "yes" if family.significant_adults_confirmed else None,
        "significant_adults_note": family.significant_adults_note,
        "version": family.version,
    }
    form = SignificantAdultsForm(request.POST or None, initial=initial)
    conflict = None
    if request.method == "GET":
        audit_read(actor=request.user, instance=family, family_id=family.pk)
    if request.method == "POST" and form.is_valid():
        try:
            services.family_update(actor=request.user, family=family, data=form.cleaned_data)
        except ConflictError as exc:
            show_conflict(form, exc)
            conflict = exc
        else:
            messages.success(request, "Answer about other significant adults saved.")
            return redirect(reverse("family-detail", args=[family.pk]) + "#household")
    return render(
        request,
        "cases/form_page.html",
        {
            "form": form,
            "family": family,
            "title": "Other significant adults",
            "lead": "Ask about anyone with regular contact with the children, including a parent’s new partner "
            "and partners who live elsewhere. Then record them in the family.",
            "submit": "Save",
            "back": _back(family, "household"),
            "conflict": conflict,
        },
        status=409 if conflict else 200,
    )


@login_required
def lead_professional_form(request: HttpRequest, family_id: int) -> HttpResponse:
    family = _changeable_family(request, family_id)
    form = LeadProfessionalForm(
        request.POST or None, candidates=lead_candidates(family), initial={"user": family.lead_professional_id}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_professional_set(actor=request.user, family=family, user=form.cleaned_data["user"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{form.cleaned_data['user']} is now the lead professional.")
            return redirect("family-detail", family_id=family.pk)
    return render(
        request,
        "cases/form_page.html",
        {"form": form, "family": family, "title": "Set the lead professional", "submit": "Save", "back": _back(family)},
    )


@login_required
def share_form(request: HttpRequest, family_id: int) -> HttpResponse:
    family = _changeable_family(request, family_id)
    form = ShareForm(request.POST or None)
    form.fields["agency"].queryset = Agency.objects.exclude(pk=family.team.agency_id).order_by("name")
    if request.method == "POST" and form.is_valid():
        try:
            share = services.share_create(actor=request.user, family=family, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"The record is shared with {share.agency.name}.")
            return redirect(reverse("family-detail", args=[family.pk]) + "#team")
    return render(
        request,
        "cases/form_page.html",
        {
            "form": form,
            "family": family,
            "title": "Share the family’s record with a partner agency",
            "lead": "The agency sees this family’s record (never a confidential referrer) until the end date, or "
            "until you end the share.",
            "submit": "Share the record",
            "back": _back(family, "team"),
        },
    )


@login_required
def share_renew(request: HttpRequest, family_id: int, share_id: int) -> HttpResponse:
    family = _changeable_family(request, family_id)
    share = get_object_or_404(FamilyShare.objects.select_related("agency"), pk=share_id, family=family)
    form = ShareRenewForm(request.POST or None, initial={"ends": share.ends})
    if request.method == "POST" and form.is_valid():
        try:
            share = services.share_renew(actor=request.user, share=share, ends=form.cleaned_data["ends"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, f"Sharing with {share.agency.name} now lasts until {share.ends.day} {share.ends:%B %Y}."
            )
            return redirect(reverse("family-detail", args=[family.pk]) + "#team")
    # The page names the family: a read of its record.
    audit_read(actor=request.user, instance=family, family_id=family.pk)
    return render(
        request,
        "cases/form_page.html",
        {
            "form": form,
            "family": family,
            "title": f"Renew sharing with {share.agency.name}",
            "lead": (
                f"Sharing now ends after {share.ends.day} {share.ends:%B %Y}."
                if share.ends
                else "Sharing has no last day."
            )
            + " Choose a new last day of access.",
            "submit": "Renew sharing",
            "back": _back(family, "team"),
        },
    )


@login_required
@require_POST
def share_end(request: HttpRequest, family_id: int, share_id: int) -> HttpResponse:
    family = _changeable_family(request, family_id)
    share = get_object_or_404(FamilyShare, pk=share_id, family=family)
    services.share_end(actor=request.user, share=share)
    messages.success(request, f"Sharing with {share.agency.name} has ended.")
    return redirect(reverse("family-detail", args=[family.pk]) + "#team")


ACCESS_LOG_PAGE_SIZE = 50


@login_required
def access_log(request: HttpRequest, family_id: int) -> HttpResponse:
    """Who has looked at this child's record, and what they did: for managers and admins."""
    family = _family(request, family_id)
    if not can_see_access_log(request.user, family):
        raise PermissionDenied("The access log is for managers.")
    page = Paginator(family_access_log(family_id=family.pk), ACCESS_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "cases/access_log.html",
        {
            "family": family,
            "people": family_access_by_person(family_id=family.pk),
            "refused": family_refused_attempts(family_id=family.pk),
            "page": page,
            "query": "",
        },
    )


def _back(family: Family, anchor: str = "") -> str:
    return reverse("family-detail", args=[family.pk]) + (f"#{anchor}" if anchor else "")
