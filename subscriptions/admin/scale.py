"""What keeps admin lists fast on millions of rows: no full COUNT(*), exact phone search."""

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

from subscriptions.common.phones import InvalidPhone, normalize


class BoundedCountPaginator(Paginator):
    """Counts exactly up to COUNT_LIMIT rows; past that, PostgreSQL's planner estimate.

    Counting millions of rows exactly costs a full scan on every page view; the admin only
    needs the page links, and "about 2,000,000" is the honest answer there.
    """

    COUNT_LIMIT = 10_000

    @cached_property
    def count(self):
        queryset = self.object_list.order_by()
        bounded = queryset[: self.COUNT_LIMIT + 1].count()
        if bounded <= self.COUNT_LIMIT:
            return bounded
        return max(bounded, planner_estimate(queryset))


def planner_estimate(queryset):
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return 0
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


class PhoneSearchMixin:
    """Search by phone number in any format (E.164, digits, national), matched exactly on
    the indexed E.164 column; text that is not a phone number finds nothing."""

    phone_lookup = "contact__phone"
    search_help_text = "A phone number in any format: +15555551212, 15555551212, (555) 555-1212."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            phone = normalize(term)
        except InvalidPhone:
            return queryset.none(), False
        return queryset.filter(**{self.phone_lookup: phone}), False


class ScaledAdminMixin(PhoneSearchMixin):
    paginator = BoundedCountPaginator
    show_full_result_count = False
