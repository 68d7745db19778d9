"""Every lookup of the import's matching goes through an index (PostgreSQL).

A key without an index is a walk through the whole table for each record
that asks for it: the usage name's, dropped by migration beneficiaries 0004,
made the import ten times slower (migration 0005 tells it).
"""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from beneficiaries.models import Beneficiary
from exchanges.matching import _PLAN_BY_INDEX, Matcher
from tests.exchanges.import_files import identity
from tests.factories import BeneficiaryFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

LOOKED_UP = {"beneficiaries_beneficiary", "exchanges_followup"}
PEOPLE = 3000


def leading_column(index: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef(%s::regclass, 1, true)", [index])
        return cursor.fetchone()[0]


def walks_for_each_record(plan: dict) -> list[str]:
    """The plan's reads of LOOKED_UP tables, run more than once, that no index narrows by its
    leading column.

    (An index whose first column the query does not give is still usable by its
    others, as a walk through the whole index: the usage name was looked up
    that way, in the name order's index, by the first name. A read run once, as
    a hashed subplan on a small table, is not a walk per record.)
    """
    found = []
    if plan.get("Relation Name") in LOOKED_UP and plan["Actual Loops"] > 1:
        scans = [plan] if "Index Name" in plan else []
        scans += [child for child in plan.get("Plans", []) if child.get("Node Type") == "Bitmap Index Scan"]
        if not any(
            re.search(rf"\b{re.escape(leading_column(scan['Index Name']))}\b", scan.get("Index Cond", ""))
            for scan in scans
        ):
            found.append(f"{plan['Node Type']} on {plan['Relation Name']}: {scans or plan.get('Filter')}")
    for child in plan.get("Plans", []):
        found += walks_for_each_record(child)
    return found


def explain(sql: str) -> dict:
    with transaction.atomic(), connection.cursor() as cursor:
        # As the matching plans them (exchanges.matching._fetch_batch_postgres).
        cursor.execute(_PLAN_BY_INDEX.format(setting="off"))
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        document = cursor.fetchone()[0]
    return (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]


def test_every_key_the_matching_asks_for_is_looked_up_by_an_index():
    # On a table of a few rows every index costs the same, and the planner may walk one by its
    # second column where another has the key first: with a few thousand people (analysed), only
    # the lookup by the leading column is cheap, as in a Département's database.
    people = BeneficiaryFactory.build_batch(PEOPLE)
    for person in people:
        person.refresh_keys()  # what save() does, and bulk_create() does not
    Beneficiary.objects.bulk_create(people)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE beneficiaries_beneficiary")
    known = BeneficiaryFactory.create_batch(2)
    without_nir = BeneficiaryFactory(nir="", usage_name="Martin", caf_number="", msa_number="")
    # Two records at least for each kind of key, so that a read made for each record is run twice.
    records = [identity(person) for person in known]  # rule 1: the NIR
    for number in (1, 2):
        # Rules 2-3 (the France Travail identifier, in the follow-ups; the CAF and MSA numbers)
        # find nobody, then rule 4 by either name.
        records.append(
            identity(
                without_nir,
                nir="",
                caf_number=f"C12{number}",
                msa_number=f"M45{number}",
                ft_institution_code="076",
                ft_identifier=f"123456{number}A",
            )
        )
    # The usage name received as the birth name, and the other way round.
    records.append(
        identity(without_nir, birth_name=without_nir.usage_name, usage_name=without_nir.birth_name)
    )
    matcher = Matcher.from_database()
    with CaptureQueriesContext(connection) as queries:
        matcher.prefetch(records)
    lookups = [query["sql"] for query in queries if query["sql"].lstrip().upper().startswith("WITH")]
    # The batch's statement, and the names' one, which asks for both name columns.
    assert len(lookups) == 2, lookups
    assert all(column in lookups[0] for column in ("nir_key", "ft_identifier", "caf_number", "msa_number"))
    assert all(column in lookups[1] for column in ("birth_name_key", "usage_name_key"))

    for sql in lookups:
        assert walks_for_each_record(explain(sql)) == [], sql

    # And the matching found the person by their usage name.
    match = matcher.match(**records[-1])
    assert match.beneficiary_id == without_nir.pk
