"""One page of a beneficiary list: its rows, the count above it, the links to the other pages.

Why not Django's Paginator over the model: measured at 200 000 people
(docs/performance.md, "Pages"),

- its exact `COUNT(*)` over the follow-up join cost 80-250 ms on every
  request when a filter keeps many rows. Here the count stops at
  `COUNT_CAP` ("plus de 10 000") and is cached under the data version
  (`versioned_cache.data_version`: imports, decisions, reviews and changes to
  people change it), keyed by the SQL of the filtered queryset, so a list
  seen again costs nothing; so are the ids of each page;
- PostgreSQL sorted the whole filtered set with every column of both tables
  (24 000 rows × 400 bytes) to keep 50, and an `OFFSET` page computed the
  orientation subqueries of every skipped row. Here a first query sorts and
  cuts only the ids, a second fetches the columns shown for those 50 ids;
- model instances and template filters (dates, choices, display names) cost
  more than the SQL: rows are plain `Row` objects with their display text
  ready.

A list that fits under its cap (most filtered lists, nearly every search) is
found first and sorted second: one query reads the ids of the rows it keeps
(up to the cap + 1, in no order: PostgreSQL uses the filters' indexes, a
search the trigram index), which also gives the count; a second sorts exactly
those ids (`id = ANY(…)`), and the sorted ids are cached, so that every page
of the list is then a slice. Asked for both at once ("the first 50 matching
rows by name"), PostgreSQL walks the sort's index and tests each row against
the filters, expecting matches to be spread evenly; but the 500 people named
MOREL sit together in the middle of the name index, and the walk read
145 000 rows (178 ms) where finding then sorting takes 2 ms. A list over the
cap is dense enough for that walk to find its rows quickly, and keeps it.

Pages stop at the cap (page 200 of 50 rows; 20 for a search): nobody reads
the 10 001st name of a list; the page says to narrow the search instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import F, Lookup, QuerySet

from beneficiaries.models import Beneficiary, is_anonymised
from beneficiaries.names import display_name
from beneficiaries.nir import mask_nir
from exchanges.models import FollowUpStatus
from pages.cohorts import is_positive_exit
from pages.filters import SORTS, apply_sort, with_orientation
from pages.versioned_cache import FROM_ITS_SQL, FROM_ITS_SQL_AND_DECISIONS, cached

PAGE_SIZE = 50
COUNT_CAP = 10_000
# The rows of a search one may page through: past a thousand names one narrows it.
SEARCH_COUNT_CAP = 1_000

# The columns a list row shows (values() lookups; the follow-up is a LEFT JOIN).
ROW_COLUMNS = (
    "pk",
    "birth_name",
    "usage_name",
    "first_name",
    "birth_date",
    "nir",
    "commune_code",
    "followup__beneficiary_id",
    "followup__status",
    "followup__reference_date",
    "followup__category",
    "followup__main_structure_name",
    "followup__last_contact_date",
    "followup__cessation_date",
    "followup__cessation_motive",
    "followup__cessation_motive_label",
    "followup__radiation_date",
    "followup__radiation_motive",
    "followup__radiation_motive_label",
    "followup__absent_from_last_stock",
    "orientation_nature",
    "orientation_date",
)
STATUS_LABELS = dict(FollowUpStatus.choices)


def day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


@dataclass
class Row:
    """What one line of the list shows, as text (the template only places it)."""

    pk: int
    birth_name: str
    name: str
    birth_date: str
    masked_nir: str
    commune_code: str
    has_followup: bool
    status: str = ""
    status_code: str = ""
    status_detail: str = ""
    positive_exit: bool = False
    absent: bool = False
    anonymised: bool = False
    reference_date: str = ""
    category: str = ""
    structure: str = ""
    last_contact: str = ""
    orientation_nature: str = ""
    orientation_date: str = ""

    @classmethod
    def from_values(cls, values: dict) -> Row:
        row = cls(
            pk=values["pk"],
            birth_name=values["birth_name"],
            name=display_name(values["birth_name"], values["usage_name"], values["first_name"]),
            birth_date=day(values["birth_date"]),
            masked_nir=mask_nir(values["nir"]),
            commune_code=values["commune_code"],
            has_followup=values["followup__beneficiary_id"] is not None,
            anonymised=is_anonymised(values["birth_name"], values["nir"]),
            orientation_nature=values["orientation_nature"] or "",
            orientation_date=day(values["orientation_date"]),
        )
        if row.has_followup:
            status = values["followup__status"]
            row.status_code = status
            row.status = str(STATUS_LABELS.get(status, status))
            if status == FollowUpStatus.CEASED:
                motive, label = (
                    values["followup__cessation_motive"],
                    values["followup__cessation_motive_label"],
                )
                row.status_detail = f"{day(values['followup__cessation_date'])} — {motive} {label}".strip()
                row.positive_exit = is_positive_exit(motive, label)
            elif status == FollowUpStatus.STRUCK_OFF:
                motive, label = (
                    values["followup__radiation_motive"],
                    values["followup__radiation_motive_label"],
                )
                row.status_detail = f"{day(values['followup__radiation_date'])} — {motive} {label}".strip()
            row.absent = values["followup__absent_from_last_stock"]
            row.reference_date = day(values["followup__reference_date"])
            row.category = values["followup__category"]
            row.structure = values["followup__main_structure_name"]
            row.last_contact = day(values["followup__last_contact_date"])
        return row


@dataclass
class ListPage:
    number: int
    rows: list[Row]
    count: int  # exact up to COUNT_CAP
    capped: bool  # the count stopped at COUNT_CAP: there are more
    has_next: bool

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    cap: int = COUNT_CAP  # rows one may page through (fewer for a search)

    @property
    def browsable(self) -> int:
        return min(self.count, self.cap)

    @property
    def max_page(self) -> int:
        return self.cap // PAGE_SIZE

    @property
    def num_pages(self) -> int:
        return min(self.max_page, max(1, -(-self.count // PAGE_SIZE)))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def at_the_cap(self) -> bool:
        """The last page one may reach while more rows exist: time to narrow the search."""
        return (self.capped or self.count > self.cap) and self.number == self.max_page


def matching_ids(queryset: QuerySet) -> list[int]:
    """The ids of at most COUNT_CAP + 1 rows of `queryset`, in no order, cached under the data version.

    More than COUNT_CAP ids means the list is capped.
    """
    return cached(
        f"ids{COUNT_CAP}",
        queryset,
        lambda: list(queryset.order_by().values_list("pk", flat=True)[: COUNT_CAP + 1]),
        FROM_ITS_SQL,
    )


class _AnyOf(Lookup):
    """`pk = ANY(%s)` on PostgreSQL: one array parameter, where `pk__in` binds one per id."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, self.rhs)


def sorted_ids(ids: list[int], sort: str) -> list[int]:
    """`ids` in the order of `sort`: the filters are not repeated, the ids are what they kept."""
    people = Beneficiary.objects.all()
    if connection.vendor == "postgresql":
        people = people.filter(_AnyOf(F("pk"), ids))
    else:
        people = people.filter(pk__in=ids)
    return list(ordered(people, sort).values_list("pk", flat=True))


def ordered(queryset: QuerySet, sort: str) -> QuerySet:
    """`queryset` in the order of `sort` (a key of `filters.SORTS`, "-" first for descending)."""
    rows = apply_sort(queryset, sort)
    return with_orientation(rows) if sort.lstrip("-") == "orientation" else rows


def page_number(value: str | None) -> int:
    try:
        return min(COUNT_CAP // PAGE_SIZE, max(1, int(value or 1)))
    except ValueError:
        return 1


def list_page(filtered: QuerySet, sort: str, number: int, *, searching: bool = False) -> ListPage:
    """Page `number` of `filtered` in the order of `sort` (`filters.SORTS`)."""
    cap = SEARCH_COUNT_CAP if searching else COUNT_CAP
    if sort.lstrip("-") not in SORTS:
        sort = "nom"
    found = matching_ids(filtered)
    count, capped = min(len(found), COUNT_CAP), len(found) > COUNT_CAP
    number = min(number, cap // PAGE_SIZE, max(1, -(-count // PAGE_SIZE)))
    start = (number - 1) * PAGE_SIZE
    if capped:
        # Dense enough for PostgreSQL's walk of the sort's index to meet its rows early. The ids
        # of each page are cached like the count: the same list is opened again and again (a
        # cohort, a bookmarked filter) and only an import, a decision, a review or a change to
        # someone changes it. One more id than shown says whether a next page exists.
        rows = ordered(filtered, sort)
        ids = cached(
            f"page{number}",
            rows,
            lambda: list(rows.values_list("pk", flat=True)[start : start + PAGE_SIZE + 1]),
            FROM_ITS_SQL,
        )
    else:
        ids = cached(
            f"sorted-{sort}",
            filtered,
            lambda: sorted_ids(found, sort),
            # The sort by orientation reads the decisions, which `filtered` may not.
            FROM_ITS_SQL_AND_DECISIONS if sort.lstrip("-") == "orientation" else FROM_ITS_SQL,
        )[start : start + PAGE_SIZE + 1]
    has_next = len(ids) > PAGE_SIZE and number < cap // PAGE_SIZE
    # The rows themselves are always read afresh.
    ids = ids[:PAGE_SIZE]
    values = with_orientation(Beneficiary.objects.filter(pk__in=ids).order_by()).values(*ROW_COLUMNS)
    by_pk = {row["pk"]: row for row in values}
    rows = [Row.from_values(by_pk[pk]) for pk in ids if pk in by_pk]
    return ListPage(number=number, rows=rows, count=count, capped=capped, has_next=has_next, cap=cap)
