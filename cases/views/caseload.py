"""My caseload: the home page for practitioners and managers (and a partner's shared families)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.reads import logged_reads
from cases.forms import CaseloadFilterForm
from cases.govuk_forms import valid_filters
from cases.models import User
from cases.selectors import caseload

PAGE_SIZE = 25


@login_required
def home(request: HttpRequest) -> HttpResponse:
    profile = User.objects.select_related("agency", "team").get(pk=request.user.pk)
    form = CaseloadFilterForm(request.GET or None)
    filters = valid_filters(form)
    families = caseload(
        user=profile,
        level=filters.get("level", ""),
        # No `status` in the URL (the first page, a "Next" link from it) means open families only.
        status=filters.get("status", "open") if "status" in request.GET else "open",
        sort=filters.get("sort") or "flags",
        mine_only=bool(filters.get("mine")),
    )
    # The page's read rows are written by the query that reads the page (the count writes none).
    families = logged_reads(families, actor=request.user, family="pk")
    page = Paginator(families, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"profile": profile, "form": form, "page": page, "query": query.urlencode()}
    template = "cases/_caseload_table.html" if request.htmx else "cases/caseload.html"
    return render(request, template, context)
