"""The Django admin over the case record: read-only, audited, with change history.

Changes to a family's record go through the services (validation, audit, versions), in the pages
or the API, never around them in the admin. Everything the admin shows of a family's record is a
read like any other and is written to the audit log: a record opened (and the rows listed inline
with it), each record on a changelist page, and a record's history (previous values). The
records are those `cases.access.restrict_to_visible` lets the admin see, so a record hidden from
admins (a restricted family) is not in any list, page or history here.

Changelist lookups are the other door (issue 14, item 9: a confidential referrer's name was
recovered letter by letter with `?referrer_name__startswith=`). Django allows any lookup on a
model's own fields; here a changelist accepts only the parameters its own filters make
(`list_filter`, `date_hierarchy`) and never one that touches a confidential field: anything else
is refused with 400, never applied.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import SimpleListFilter
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from cases.access import restrict_to_visible

from .services import REDACTED_FIELDS, audit_reads

# The parameters Django's own list filters put in a changelist URL, after the field's path:
# choices and booleans (`exact`, `isnull`), relations (`id__exact`), dates (`gte`, `lt`).
FILTER_LOOKUPS = frozenset({"exact", "isnull", "id__exact", "gte", "lt"})
DATE_HIERARCHY_LOOKUPS = frozenset({"year", "month", "day"})


def touches_confidential(path: str) -> bool:
    """Whether a lookup, ordering or search path names a confidential field at any step."""
    return bool(set(path.lstrip("-^=@").split(LOOKUP_SEP)) & REDACTED_FIELDS)


def _suffix_in(lookup: str, path: str, allowed: frozenset[str]) -> bool:
    prefix = path + LOOKUP_SEP
    return lookup.startswith(prefix) and lookup[len(prefix) :] in allowed


def strict_lookup_allowed(model_admin: admin.ModelAdmin, lookup: str, request) -> bool:
    """Only what the changelist's own filters offer, and nothing on a confidential field."""
    if touches_confidential(lookup):
        return False
    for item in model_admin.get_list_filter(request):
        if isinstance(item, type) and issubclass(item, SimpleListFilter):
            if lookup == item.parameter_name:
                return True
        elif _suffix_in(lookup, item[0] if isinstance(item, list | tuple) else item, FILTER_LOOKUPS):
            return True
    hierarchy = model_admin.date_hierarchy
    return bool(hierarchy) and _suffix_in(lookup, hierarchy, DATE_HIERARCHY_LOOKUPS)


class StrictLookupsMixin:
    """For every ModelAdmin: changelist lookups limited to its filters; no search or ordering on a
    confidential field (`audit/tests/test_admin_case_data.py` checks every registered admin)."""

    def lookup_allowed(self, lookup, value, request=None):
        return strict_lookup_allowed(self, lookup, request)

    def get_search_fields(self, request):
        return [f for f in super().get_search_fields(request) if not touches_confidential(f)]

    def get_sortable_by(self, request):
        return [f for f in super().get_sortable_by(request) if not (isinstance(f, str) and touches_confidential(f))]


class AuditedReadOnlyAdmin(StrictLookupsMixin, SimpleHistoryAdmin):
    """`family_field`: the path from the model to Family for `restrict_to_visible` ("" for Family
    itself); `family_attr`: the attribute (dotted if it crosses a relation) holding a record's
    family id, for its read row ("pk" for Family itself)."""

    family_field = "family"
    family_attr = "family_id"
    actions = None

    def family_id_of(self, obj) -> int | None:
        value = obj
        for attr in self.family_attr.split("."):
            value = getattr(value, attr)
        return value

    def get_queryset(self, request):
        return restrict_to_visible(super().get_queryset(request), request.user, family_field=self.family_field)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl") if response.status_code == 200 else None
        if cl is not None:
            # Evaluates the page's queryset once; the template then reads the same cached rows.
            shown = list(cl.result_list)
            audit_reads(actor=request.user, model=self.model, rows=[(o.pk, self.family_id_of(o)) for o in shown])
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        context = (getattr(response, "context_data", None) or {}) if response.status_code == 200 else {}
        obj = context.get("original")
        if obj is not None:
            family_id = self.family_id_of(obj)
            audit_reads(actor=request.user, model=self.model, rows=[(obj.pk, family_id)])
            # Rows listed inline (a family's members and shares, a prompt's events) belong to the
            # same family as the record they are listed under.
            for inline in context.get("inline_admin_formsets", ()):
                formset = inline.formset
                rows = [(form.instance.pk, family_id) for form in formset.initial_forms]
                audit_reads(actor=request.user, model=formset.model, rows=rows)
        return response

    def history_view(self, request, object_id, extra_context=None):
        # Fetched through get_queryset first: django-simple-history would otherwise fall back to a
        # record's last history row, serving the history of a record the admin may not see.
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if self._keeps_history():
            response = super().history_view(request, object_id, extra_context)
        else:
            # No django-simple-history on this model (flags and prompts keep their own events):
            # Django's own history page, the admin log of the record (empty: the admin is read-only).
            response = admin.ModelAdmin.history_view(self, request, object_id, extra_context)
        if response.status_code == 200:
            audit_reads(actor=request.user, model=self.model, rows=[(obj.pk, self.family_id_of(obj))])
        return response

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # One entry of a record's history. django-simple-history's page is also its "revert" form,
        # which saves on POST whatever the admin's change permission says: here it only ever
        # shows, and only a record this admin may see now (a restricted record's old rows
        # would otherwise show it). Reverting is not a change a service validates and audits.
        if not self._keeps_history():
            raise Http404
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("History is read-only: make changes in the service's own pages or the API.")
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_search_results(self, request, queryset, search_term):
        # The admin's autocomplete (`/admin/autocomplete/?app_label=…&field_name=member`) searches
        # through the related model's admin and would list names page by page with no read row;
        # nothing here is edited, so no widget needs it.
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def _keeps_history(self) -> bool:
        return hasattr(self.model._meta, "simple_history_manager_attribute")


class AuditedReadOnlyNoHistoryAdmin(AuditedReadOnlyAdmin):
    """For records whose history holds fields the admin must not see (the confidential referrer)."""

    def history_view(self, request, object_id, extra_context=None):
        raise PermissionDenied


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


__all__ = [
    "AuditedReadOnlyAdmin",
    "AuditedReadOnlyNoHistoryAdmin",
    "ReadOnlyInline",
    "StrictLookupsMixin",
    "admin",
    "strict_lookup_allowed",
    "touches_confidential",
]
