"""The manager's escalation dashboard, the prompt page and the decisions on prompts.

Decisions go through the same services as the API (acknowledge, action, escalate), so each is
recorded with who and when; the CSV export never carries a confidential referrer (flags and
prompts hold none).
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit.services import AuditAction, audit_read, audit_reads, audit_record
from cases.govuk_forms import add_service_errors, valid_filters
from cases.models import Role
from cases.selectors import team_around_family
from cases.service_utils import ConflictError

from . import selectors
from .forms import ActionForm, DashboardFilterForm, EscalateForm
from .models import ACTIVE_PROMPT_STATUSES, EscalationPrompt
from .permissions import may_decide_prompt, who_decides
from .presenters import prompt_table_rows
from .services.prompts import prompt_acknowledge, prompt_action, prompt_escalate

PAGE_SIZE = 25


def _is_manager(user) -> bool:
    return user.role == Role.MANAGER or user.is_platform_admin


def _filters(
    request: HttpRequest, *, teams=None, people=None
) -> tuple[DashboardFilterForm, selectors.DashboardFilters]:
    form = DashboardFilterForm(request.GET or None, user=request.user, teams=teams, people=people)
    data = valid_filters(form)
    # No `status` in the URL (the first page, a "Next" link from it) means open or acknowledged.
    status = data.get("status", "active") if "status" in request.GET else "active"
    filters = selectors.DashboardFilters(
        team=data.get("team"),
        assigned_to=data.get("assigned_to"),
        rule=data.get("rule") or "",
        severity=data.get("severity") or "",
        status=status if status is not None else "active",
        min_age_days=data.get("min_age_days"),
        mine=not _is_manager(request.user),
    )
    return form, filters


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Managers and heads of service: the team's prompts; practitioners: their own ("my prompts")."""
    if request.user.role == Role.PARTNER:
        raise PermissionDenied("The escalation dashboard is for the owning service.")
    user = request.user
    teams = selectors.visible_team_list(user=user)
    people = selectors.team_members(team_id=user.team_id)
    form, filters = _filters(request, teams=teams, people=people)
    manager = _is_manager(user)
    partial = bool(request.htmx and request.htmx.target == "prompt-list")
    # The list's ids in order, its counts and (for the charts) the open prompts' ages: one query.
    summary = selectors.dashboard_summary(user=user, filters=filters, with_ages=manager and not partial)
    paginator = Paginator(summary.ids, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    rows = selectors.dashboard_page(summary=summary, ids=page.object_list, read_by=user)
    page.object_list = prompt_table_rows(rows, overdue_ids=summary.overdue_ids)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "counts": summary.counts,
        "manager": manager,
        "today": timezone.localdate(),
    }
    if partial:
        return render(request, "escalation/_prompt_table.html", context)
    if manager:
        workload_team = filters.team or user.team_id
        context["workload"] = selectors.team_workload(
            user=user, team_id=filters.team, teams=teams, members=people if workload_team == user.team_id else None
        )
        context["charts"] = selectors.chart_data_cached(user=user, teams=teams, ages=summary.ages)
    return render(request, "escalation/dashboard.html", context)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Text a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value):
        return value


@login_required
def dashboard_export(request: HttpRequest) -> HttpResponse:
    """The current filtered list as CSV. No confidential referrer: prompts and flags never hold one."""
    if request.user.role == Role.PARTNER:
        raise PermissionDenied
    _form, filters = _filters(request)
    prompts = selectors.dashboard_prompts(user=request.user, filters=filters)
    audit_record(
        actor=request.user,
        action=AuditAction.EXPORT,
        instance=request.user,
        family_id=None,
        changes={"export": "escalation prompts", "filters": {k: v for k, v in vars(filters).items() if v}},
    )
    # And one EXPORT row per prompt in the file, so each family's access log shows the export.
    audit_reads(
        actor=request.user,
        model=EscalationPrompt,
        rows=prompts.values_list("pk", "family_id").order_by(),
        action=AuditAction.EXPORT,
    )
    writer = csv.writer(_Echo())
    header = [
        "prompt",
        "family_reference",
        "family",
        "check",
        "severity",
        "level",
        "assigned_to",
        "status",
        "due",
        "overdue",
        "raised",
        "detail",
    ]

    def rows():
        yield writer.writerow(header)
        for p in prompts.iterator(chunk_size=500):
            row = [
                p.pk,
                p.family.reference,
                p.family.name,
                p.flag.rule,
                p.flag.severity,
                p.level,
                (p.assigned_to.get_full_name() or p.assigned_to.username) if p.assigned_to else "",
                p.status,
                p.due.isoformat(),
                "yes" if p.overdue else "no",
                timezone.localtime(p.created_at).strftime("%Y-%m-%d %H:%M"),
                p.flag.detail,
            ]
            yield writer.writerow([_cell(v) for v in row])

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="escalation-prompts-{stamp}.csv"'
    return response


@login_required
def prompt_detail(request: HttpRequest, prompt_id: int) -> HttpResponse:
    prompt = selectors.prompt_get_for_user(user=request.user, prompt_id=prompt_id)
    audit_read(actor=request.user, instance=prompt, family_id=prompt.family_id)
    return _render_prompt(request, prompt)


def _render_prompt(
    request, prompt, *, action_form=None, escalate_form=None, conflict=None, refused: str = "", status=200
):
    family = prompt.family
    active = prompt.status in ACTIVE_PROMPT_STATUSES
    may_decide = active and may_decide_prompt(request.user, prompt)
    history = list(prompt.events.all())
    chain = []
    cursor = prompt.escalated_from_id
    if cursor:
        chain = list(
            EscalationPrompt.objects.filter(flag_id=prompt.flag_id)
            .select_related("assigned_to")
            .order_by("created_at", "id")
        )
    return render(
        request,
        "escalation/prompt_detail.html",
        {
            "prompt": prompt,
            "flag": prompt.flag,
            "family": family,
            "history": history,
            "chain": chain,
            "team_around": team_around_family(user=request.user, family=_family_with_lead(family)),
            "can_act": may_decide,
            # Someone who may see the prompt but not decide it is told who can.
            "who_decides": who_decides(prompt) if active and not may_decide else "",
            "refused": refused,
            "action_form": action_form or ActionForm(),
            "escalate_form": escalate_form or EscalateForm(),
            "today": timezone.localdate(),
            "conflict": conflict,
        },
        status=status,
    )


def _family_with_lead(family):
    from cases.models import Family

    return Family.objects.select_related("team__agency", "lead_professional__agency").get(pk=family.pk)


def _refused(request: HttpRequest, prompt: EscalationPrompt, exc: PermissionDenied | None = None) -> HttpResponse:
    """Someone who can see the prompt but may not decide it: 403, on the prompt's page (a read of
    the record, so audited), saying who can decide it. Asked before the form is read, so a bad
    form from someone who may not decide is a refusal, not a list of field errors."""
    audit_read(actor=request.user, instance=prompt, family_id=prompt.family_id)
    message = (str(exc) if exc else "") or who_decides(prompt)
    return _render_prompt(request, prompt, refused=message, status=403)


def _conflict(request: HttpRequest, prompt_id: int, exc: ConflictError) -> HttpResponse:
    """Someone decided first: show their decision as saved, and what this person wrote, unsaved,
    so they can copy it into a case note or a new prompt rather than lose it."""
    prompt = selectors.prompt_get_for_user(user=request.user, prompt_id=prompt_id)
    return _render_prompt(request, prompt, conflict=exc, status=409)


@login_required
@require_POST
def prompt_acknowledge_view(request: HttpRequest, prompt_id: int) -> HttpResponse:
    prompt = selectors.prompt_get_for_user(user=request.user, prompt_id=prompt_id)
    if not may_decide_prompt(request.user, prompt):
        return _refused(request, prompt)
    try:
        prompt_acknowledge(actor=request.user, prompt=prompt)
    except PermissionDenied as exc:
        return _refused(request, prompt, exc)
    except ConflictError as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Acknowledged. It stays open until it is actioned or escalated.")
    return redirect("prompt-detail", prompt_id=prompt.pk)


@login_required
@require_POST
def prompt_action_view(request: HttpRequest, prompt_id: int) -> HttpResponse:
    prompt = selectors.prompt_get_for_user(user=request.user, prompt_id=prompt_id)
    if not may_decide_prompt(request.user, prompt):
        return _refused(request, prompt)
    form = ActionForm(request.POST)
    if form.is_valid():
        try:
            prompt_action(actor=request.user, prompt=prompt, **form.cleaned_data)
        except PermissionDenied as exc:
            return _refused(request, prompt, exc)
        except ConflictError as exc:
            return _conflict(request, prompt_id, exc)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Decision recorded. The prompt is closed as actioned.")
            return redirect("dashboard")
    return _render_prompt(request, prompt, action_form=form)


@login_required
@require_POST
def prompt_escalate_view(request: HttpRequest, prompt_id: int) -> HttpResponse:
    prompt = selectors.prompt_get_for_user(user=request.user, prompt_id=prompt_id)
    if not may_decide_prompt(request.user, prompt):
        return _refused(request, prompt)
    form = EscalateForm(request.POST)
    if form.is_valid():
        try:
            successor = prompt_escalate(actor=request.user, prompt=prompt, reason=form.cleaned_data["reason"])
        except PermissionDenied as exc:
            return _refused(request, prompt, exc)
        except ConflictError as exc:
            return _conflict(request, prompt_id, exc)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Escalated to the {successor.get_level_display().lower()}.")
            return redirect("dashboard")
    return _render_prompt(request, prompt, escalate_form=form)
