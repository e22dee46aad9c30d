"""Search for families and people by name, tolerant of misspellings and aliases, because the same
child is spelled three ways by three agencies (Child K, seed 004: check the exact spelling)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.services import audit_reads
from cases.models import Member
from cases.selectors import search_people

MAX_QUERY = 100


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """The name travels in a POST body, never the URL (OWASP ASVS 8.3.1): URLs end up in browser
    history, proxy and server logs, and Referer headers."""
    # No name has a NUL byte, and PostgreSQL refuses one in a query (a 500): drop it.
    q = (request.POST.get("q") or "").replace("\x00", "").strip()[:MAX_QUERY] if request.method == "POST" else ""
    results = search_people(user=request.user, query=q) if len(q) >= 2 else None
    if results:
        audit_reads(actor=request.user, model=Member, rows=[(m.pk, m.family_id) for m in results])
    template = "cases/_search_results.html" if request.htmx else "cases/search.html"
    return render(request, template, {"q": q, "results": results})
