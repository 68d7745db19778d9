"""Finding the Département's beneficiary behind a record from another file.

The rules, in order (the first that finds someone decides):

1. NIR: the first 13 characters (Corsica 2A/2B kept as letters);
2. France Travail identifier (institution code + identifier) seen before;
3. CAF or MSA number + birth date;
4. birth name or usage name + first name + birth date, names folded
   (`beneficiaries.names.name_key`).

Before the rules, a record an admin already linked in the review queue (same
NIR and birth date, or same France Travail identifier) goes to the person
chosen (`confirmed`): a decision is taken once, not every month.

After the rules, a record they leave unlinked or doubtful may carry the new
identifier of someone whose registration ceased with motive 46 (changement
de site: a new identifier and agency code, expected in the same file or the
next): with the same NIR, or the same names and birth date, as the ceased
record, it goes to that person (`site_change`, no review case).

Nothing is linked when it is not certain: a NIR known with another birth
date, two candidates, or a match contradicted by another identifier come
back with a `review_reason` and the candidates, for an admin to decide.

Where the matcher looks. Nothing is held in memory per beneficiary: an
import's memory must not grow with the Département's file of people (issue
#8; indexes of every beneficiary cost ~650 bytes each). Records are matched
by batches: `prefetch_job()` reads the people who share a key with the
batch's records, with their follow-up (on PostgreSQL one statement,
`_BATCH_SQL`, then one for names; the key columns of the database are those
of the rules: `nir_key`, the name keys, `birth_date`, the numbers), and the
rules run on them. A key nobody prefetched is read when a rule needs it
(`match()` on its own works, one record at a time): never "nobody" for want
of asking. Besides, in memory for the whole run:

- `confirmed`: the review queue's decisions;
- `kept`: what the database cannot be asked for through an index: a CAF or MSA
  number or a France Travail identifier stored with spaces or lower case (the
  rules compare them trimmed and upper-cased; read once at the start, normally
  none), and France Travail identifiers an import saw that no follow-up holds
  any more (a person whose identifier changed: rare);
- `recent`: what an import added (people, identifiers) and has not written
  yet: the current batch and the one before (see exchanges.pecgm_import).

The candidates the database gives are checked by the same code as before
(`_Index.add_person`), so a key matches exactly as it always did: no hash,
no approximation.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from django.db import connection

from beneficiaries.models import Beneficiary
from beneficiaries.names import name_key
from contract.nir import nir_key
from exchanges.followup import CHANGE_COLUMNS, SITUATION_COLUMNS, Situation
from exchanges.models import FollowUp, FollowUpStatus, MatchRule, ReviewCase, ReviewReason, ReviewStatus


class Person(NamedTuple):
    """What the matcher knows of a beneficiary: identifiers only."""

    id: int
    nir_key: str
    birth_date: date
    caf_number: str
    msa_number: str


def _put(index: dict, key, beneficiary_id: int) -> None:
    """Index a beneficiary under a key: one id per key, a list only when people share it."""
    known = index.get(key)
    if known is None:
        index[key] = beneficiary_id
    elif known.__class__ is list:
        if beneficiary_id not in known:
            known.append(beneficiary_id)
    elif known != beneficiary_id:
        index[key] = [known, beneficiary_id]


def _ids(index: dict, key) -> list[int]:
    known = index.get(key)
    if known is None:
        return []
    return list(known) if known.__class__ is list else [known]


@dataclass
class MatchResult:
    beneficiary_id: int | None = None
    rule: str = ""  # a MatchRule value when a rule found someone
    review_reason: str = ""  # a ReviewReason value when an admin must decide
    candidates: list[int] = field(default_factory=list)

    @property
    def is_match(self) -> bool:
        return self.beneficiary_id is not None and not self.review_reason

    @property
    def needs_review(self) -> bool:
        return bool(self.review_reason)

    @property
    def is_new(self) -> bool:
        """Nobody found, nothing doubtful: a person the Département does not know."""
        return self.beneficiary_id is None and not self.review_reason


def _clean(value: str | None) -> str:
    return (value or "").strip().upper()


def ft_key(institution_code: str | None, identifier: str | None) -> tuple[str, str] | None:
    institution, ident = _clean(institution_code), _clean(identifier)
    if not ident:
        return None
    # Institution codes come padded or not ("076", "76").
    return (institution.lstrip("0"), ident)


# A stored number or identifier made of these characters only is its own key
# (`_clean` changes nothing): the database finds it by equality, through its
# index. Any other is read once into memory (`Matcher.kept`). Spelled out
# rather than as ranges, whose meaning may depend on the database's collation.
CLEAN_PATTERN = r"^[0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ]*$"


def _is_clean(value: str | None) -> bool:
    return (value or "") == _clean(value)


class Keys(NamedTuple):
    """The matching keys of one record; its names as received (folding them costs: `name_keys`)."""

    nir: str
    ft: tuple[str, str] | None
    caf: str
    msa: str
    birth_date: date | None
    birth_name: str | None
    usage_name: str | None
    first_name: str | None

    def name_keys(self) -> list[tuple[str, str, date]]:
        """Rule 4's keys: either name of the record (folded) with the first name and birth date.

        Folded only for the few records the first three rules leave undecided.
        """
        first = name_key(self.first_name)
        if not first or self.birth_date is None:
            return []
        names = {name_key(self.birth_name), name_key(self.usage_name)} - {""}
        return [(name, first, self.birth_date) for name in sorted(names)]


def record_keys(
    birth_date: date | None,
    nir: str | None = None,
    birth_name: str | None = None,
    usage_name: str | None = None,
    first_name: str | None = None,
    caf_number: str | None = None,
    msa_number: str | None = None,
    ft_identifier: str | None = None,
    ft_institution_code: str | None = None,
) -> Keys:
    """The matching keys of a record's identity; `keys_of()` passes them by position."""
    return Keys(
        nir_key(nir),
        ft_key(ft_institution_code, ft_identifier),
        _clean(caf_number),
        _clean(msa_number),
        birth_date,
        birth_name,
        usage_name,
        first_name,
    )


# The fields of a record that identify its person: the names `record_keys()` takes.
IDENTITY_FIELDS = tuple(inspect.signature(record_keys).parameters)
_IDENTITY = operator.itemgetter(*IDENTITY_FIELDS)


def keys_of(values: Mapping) -> Keys:
    """`record_keys()` of a record's values (a mapping holding every `IDENTITY_FIELDS`).

    What the PECGM import computes for each record: the values are taken in
    one go and passed by position (a dict of keyword arguments per record cost
    more than the keys themselves).
    """
    return record_keys(*_IDENTITY(values))


class _Index:
    """Beneficiary ids by matching key, and who they are.

    Each dict maps a key to one id, or to a list when people share it (`_put`).
    `asked` holds the keys (and ids) the database was asked about: a key asked
    and absent is known to match nobody; a key not asked is read when needed.
    """

    def __init__(self) -> None:
        self.people: dict[int, Person] = {}
        self.by_nir: dict[str, int | list[int]] = {}
        self.by_ft: dict[tuple[str, str], int | list[int]] = {}
        self.by_caf: dict[tuple[str, date], int | list[int]] = {}
        self.by_msa: dict[tuple[str, date], int | list[int]] = {}
        self.by_name: dict[tuple[str, str, date], int | list[int]] = {}
        self.asked: set[tuple[str, Any]] = set()
        # Their current follow-up (FOLLOWUP_FIELDS), None when they have none: read with them.
        self.followups: dict[int, tuple | None] = {}

    def add_person(self, id_, nir_key_, birth_date, caf, msa, birth_key, usage_key, first_key) -> None:
        caf = caf.strip().upper() if caf else ""
        msa = msa.strip().upper() if msa else ""
        self.people[id_] = Person(id_, nir_key_ or "", birth_date, caf, msa)
        if nir_key_:
            _put(self.by_nir, nir_key_, id_)
        if caf:
            _put(self.by_caf, (caf, birth_date), id_)
        if msa:
            _put(self.by_msa, (msa, birth_date), id_)
        if first_key:
            if birth_key:
                _put(self.by_name, (birth_key, first_key, birth_date), id_)
            if usage_key and usage_key != birth_key:
                _put(self.by_name, (usage_key, first_key, birth_date), id_)

    def add_ft(self, beneficiary_id: int, institution_code: str | None, identifier: str | None) -> None:
        key = ft_key(institution_code, identifier)
        if key:
            _put(self.by_ft, key, beneficiary_id)

    def merge(self, other: _Index) -> None:
        self.people.update(other.people)
        self.followups.update(other.followups)
        for name in ("by_nir", "by_ft", "by_caf", "by_msa", "by_name"):
            mine = getattr(self, name)
            for key, ids in getattr(other, name).items():
                for beneficiary_id in ids if ids.__class__ is list else [ids]:
                    _put(mine, key, beneficiary_id)
        self.asked |= other.asked


# --- Reading candidates from the database -----------------------------------------------

PERSON_FIELDS = (
    "id",
    "nir_key",
    "birth_date",
    "caf_number",
    "msa_number",
    "birth_name_key",
    "usage_name_key",
    "first_name_key",
)
# A person's current follow-up comes with them: its identifier for the rules,
# the rest for the PECGM import (its current situation, exchanges.followup).
FOLLOWUP_FIELDS = ("ft_institution_code", "ft_identifier", *SITUATION_COLUMNS, *CHANGE_COLUMNS)
_SITUATION_WIDTH = 2 + len(SITUATION_COLUMNS)


def situation_of(followup: tuple) -> Situation:
    """The `Situation` of a follow-up read as FOLLOWUP_FIELDS."""
    return Situation(
        *followup[2:_SITUATION_WIDTH], ft_key(followup[0], followup[1]), *followup[_SITUATION_WIDTH:]
    )


def _column(model, name: str) -> str:
    return model._meta.get_field(name).column


# Table and column names come from the models; values are always query parameters.
_PEOPLE, _FOLLOWUPS = Beneficiary._meta.db_table, FollowUp._meta.db_table
_ID, _NIR, _CAF, _MSA, _BIRTH_NAME, _USAGE_NAME, _FIRST_NAME, _BORN = (
    _column(Beneficiary, name)
    for name in (
        "id",
        "nir_key",
        "caf_number",
        "msa_number",
        "birth_name_key",
        "usage_name_key",
        "first_name_key",
        "birth_date",
    )
)
_FOLLOWED, _FT_IDENTIFIER = _column(FollowUp, "beneficiary"), _column(FollowUp, "ft_identifier")
# The people whose id is in `found` (a CTE), each with their follow-up. On
# PostgreSQL each follow-up is read by its key (LATERAL ... LIMIT 1: a plain
# join was planned as a walk through the whole table, the planner expecting far
# more people; there is one follow-up per person).
_FOLLOWUP_COLUMNS = ", ".join(_column(FollowUp, name) for name in FOLLOWUP_FIELDS)
_PERSON_COLUMNS = ", ".join(f"b.{_column(Beneficiary, name)}" for name in PERSON_FIELDS)
_FOLLOWUP_OF_B = (
    f"LEFT JOIN LATERAL (SELECT {_FOLLOWED}, {_FOLLOWUP_COLUMNS} FROM {_FOLLOWUPS} "  # noqa: S608
    f"WHERE {_FOLLOWED} = b.{_ID} LIMIT 1) AS f ON TRUE"
)
_SELECT_PEOPLE = {
    "postgresql": (
        f"SELECT {_PERSON_COLUMNS}, f.* FROM (SELECT DISTINCT id FROM found) AS i "  # noqa: S608
        f"CROSS JOIN LATERAL (SELECT * FROM {_PEOPLE} WHERE {_ID} = i.id OFFSET 0) AS b {_FOLLOWUP_OF_B}"
    ),
    "other": (
        f"SELECT {_PERSON_COLUMNS}, f.{_FOLLOWED}, "  # noqa: S608
        f"{', '.join(f'f.{_column(FollowUp, name)}' for name in FOLLOWUP_FIELDS)} "
        f"FROM {_PEOPLE} AS b LEFT JOIN {_FOLLOWUPS} AS f ON f.{_FOLLOWED} = b.{_ID} "
        f"WHERE b.{_ID} IN (SELECT id FROM found)"
    ),
}
# Records per query on SQLite, whose keys are one parameter each (it takes 32 766 at most).
SQLITE_CHUNK = 250


def _each(arrays: str, names: str, lookup: str) -> str:
    """PostgreSQL: `lookup` (a SELECT naming the values `v.<name>`) for each row of unnested arrays.

    LATERAL ... OFFSET 0 keeps it one index lookup per value, whatever the
    table's statistics say: during an import that fills a table they are
    stale, and the planner, left free, read whole tables for a few thousand
    values.
    """
    return f"SELECT x.* FROM unnest({arrays}) AS v({names}) CROSS JOIN LATERAL ({lookup} OFFSET 0) AS x"  # noqa: S608


def _key_queries(postgres: bool, nirs, idents, cafs, msas, names, ids) -> tuple[list[str], list]:
    """The `SELECT id` of the people having one of these keys, one per kind of key (for a UNION).

    On PostgreSQL, each list is one array parameter (`_each`); elsewhere, one
    parameter per value.
    """
    queries, params = [], []

    def where(table: str, id_column: str, column: str, items: list, kind: str = "varchar") -> None:
        if not items:
            return
        if postgres:
            lookup = f"SELECT {id_column} AS id FROM {table} WHERE {column} = v.key"  # noqa: S608
            queries.append(_each(f"%s::{kind}[]", "key", lookup))
            params.append(items)
        else:
            placeholders = ", ".join(["%s"] * len(items))
            queries.append(f"SELECT {id_column} FROM {table} WHERE {column} IN ({placeholders})")  # noqa: S608
            params.extend(items)

    where(_PEOPLE, _ID, _NIR, nirs)
    where(_FOLLOWUPS, _FOLLOWED, _FT_IDENTIFIER, idents)
    where(_PEOPLE, _ID, _CAF, cafs)
    where(_PEOPLE, _ID, _MSA, msas)
    where(_PEOPLE, _ID, _ID, ids, "bigint")
    if names:
        for name_column in (_BIRTH_NAME, _USAGE_NAME):
            if postgres:
                lookup = (
                    f"SELECT {_ID} AS id FROM {_PEOPLE} WHERE {name_column} = v.name "  # noqa: S608
                    f"AND {_FIRST_NAME} = v.first AND {_BORN} = v.born"
                )
                queries.append(_each("%s::varchar[], %s::varchar[], %s::date[]", "name, first, born", lookup))
                params.extend(list(column) for column in zip(*names, strict=True))
            else:
                row = f"({name_column}, {_FIRST_NAME}, {_BORN})"
                rows = ", ".join(["(%s, %s, %s)"] * len(names))
                queries.append(f"SELECT {_ID} FROM {_PEOPLE} WHERE {row} IN (VALUES {rows})")  # noqa: S608
                params.extend(value for key in names for value in key)
    return queries, params


def _fetch(
    cursor,
    postgres: bool,
    *,
    nirs: Iterable[str] = (),
    fts: Iterable[tuple[str, str]] = (),
    cafs: Iterable[tuple[str, date]] = (),
    msas: Iterable[tuple[str, date]] = (),
    names: Iterable[tuple[str, str, date]] = (),
    ids: Iterable[int] = (),
) -> _Index:
    """The people having one of these keys, with their follow-up: ONE query (a round trip costs).

    Every kind of key is asked for every record, though most stop at the NIR:
    the database looks a few thousand keys up in its indexes in less time
    than a second round trip takes while the import keeps the process busy.
    The rules then run on these people exactly as on all of them.
    """
    found = _Index()
    nirs, fts, cafs, msas, names, ids = set(nirs), set(fts), set(cafs), set(msas), set(names), set(ids)
    found.asked |= {("by_nir", key) for key in nirs} | {("by_ft", key) for key in fts}
    found.asked |= {("by_caf", key) for key in cafs} | {("by_msa", key) for key in msas}
    found.asked |= {("by_name", key) for key in names} | {("id", key) for key in ids}
    queries, params = _key_queries(
        postgres,
        list(nirs),
        list({ident for _institution, ident in fts}),
        list({caf for caf, _day in cafs}),
        list({msa for msa, _day in msas}),
        list(names),
        list(ids),
    )
    if not queries:
        return found
    found_ids = " UNION ".join(queries)
    people = _SELECT_PEOPLE["postgresql" if postgres else "other"]
    sql = f"WITH found(id) AS ({found_ids}) {people}"  # noqa: S608
    cursor.execute(sql, params)
    _add_found(found, cursor.fetchall())
    return found


# One statement per batch on PostgreSQL: the records' keys as arrays side by side
# (one row per record), then the rules' order kept where it costs: a record whose
# NIR the database knows is decided by rule 1, so only the others ("rest", about
# a tenth of a monthly stock) are looked up by identifier, numbers and names.
# Each lookup is an index scan per key (a few thousand per batch: ~20 ms; see
# `_each` for LATERAL ... OFFSET 0). The name keys are left out (NULL): only the
# second statement, for names, needs them.
_B = ", ".join(
    f"NULL::varchar AS {_column(Beneficiary, name)}"
    if name.endswith("_name_key")
    else f"b.{_column(Beneficiary, name)}"
    for name in PERSON_FIELDS
)
_BATCH_SQL = f"""
WITH k AS (
    SELECT * FROM unnest(
        string_to_array(%s, chr(31), ''), string_to_array(%s, chr(31), ''),
        string_to_array(%s, chr(31), ''), string_to_array(%s, chr(31), '')
    ) AS k(nir, ident, caf, msa)
), by_nir AS (
    SELECT p.* FROM k CROSS JOIN LATERAL (
        SELECT {_B} FROM {_PEOPLE} AS b WHERE b.{_NIR} = k.nir OFFSET 0
    ) AS p
), rest AS (
    -- (NOT EXISTS on the table, by its index: `NOT IN (SELECT ... FROM by_nir)` is
    -- a walk through by_nir for each record unless the planner, trusting fresh
    -- statistics, hashes it: 0.2 s a batch when the people were never analysed.)
    SELECT * FROM k WHERE k.nir IS NULL
        OR NOT EXISTS (SELECT 1 FROM {_PEOPLE} AS b WHERE b.{_NIR} = k.nir)
), other_ids(id) AS (
    -- (Only the records that have the key: a lookup of NULL may be planned as a
    -- walk through the table when nearly everybody has no MSA number.)
    SELECT x.id FROM (SELECT ident FROM rest WHERE ident IS NOT NULL) AS r CROSS JOIN LATERAL (
        SELECT {_FOLLOWED} AS id FROM {_FOLLOWUPS} WHERE {_FT_IDENTIFIER} = r.ident OFFSET 0
    ) AS x
    UNION SELECT x.id FROM (SELECT caf FROM rest WHERE caf IS NOT NULL) AS r CROSS JOIN LATERAL (
        SELECT {_ID} AS id FROM {_PEOPLE} WHERE {_CAF} = r.caf OFFSET 0
    ) AS x
    UNION SELECT x.id FROM (SELECT msa FROM rest WHERE msa IS NOT NULL) AS r CROSS JOIN LATERAL (
        SELECT {_ID} AS id FROM {_PEOPLE} WHERE {_MSA} = r.msa OFFSET 0
    ) AS x
    UNION SELECT unnest(%s::bigint[])
), found AS (
    SELECT * FROM by_nir
    UNION SELECT p.* FROM other_ids CROSS JOIN LATERAL (
        SELECT {_B} FROM {_PEOPLE} AS b WHERE b.{_ID} = other_ids.id OFFSET 0
    ) AS p
)
SELECT found.*, f.* FROM found LEFT JOIN LATERAL (
    -- Each person's follow-up read by its key (LIMIT: one per person, and the
    -- subquery stays a lookup by key, whatever the statistics say).
    SELECT {_FOLLOWED}, {_FOLLOWUP_COLUMNS} FROM {_FOLLOWUPS} WHERE {_FOLLOWED} = found.{_ID} LIMIT 1
) AS f ON TRUE
"""  # noqa: S608


_PLAN_BY_INDEX = (
    "SET LOCAL enable_seqscan = {setting}; SET LOCAL enable_hashjoin = {setting}; "
    "SET LOCAL enable_mergejoin = {setting}"
)


# The batch's keys go as four texts, each the keys of one kind joined by this
# character, which no XML text may hold, nor thus any key read from a file (an
# empty key is NULL: '' would match everybody without a number). A text is sent
# as it is; a list of strings was turned into an array literal value by value
# in Python, which cost the import more than the statement itself.
_SEPARATOR = "\x1f"


def _key_columns(keys: list[Keys]) -> tuple[list[str], bool]:
    """`_BATCH_SQL`'s four parameters: the NIRs, identifiers, CAF and MSA numbers of the records.

    And whether a key held the separator (from elsewhere than a file: never
    seen): such a key is left out, to be read on its own when a rule needs it.
    """
    columns = [
        [k.nir for k in keys],
        [k.ft[1] if k.ft else "" for k in keys],
        [k.caf for k in keys],
        [k.msa for k in keys],
    ]
    texts = [_SEPARATOR.join(column) for column in columns]
    odd = any(text.count(_SEPARATOR) != len(keys) - 1 for text in texts if keys)
    if odd:
        texts = [_SEPARATOR.join("" if _SEPARATOR in v else v for v in column) for column in columns]
    return texts, odd


def _holds_separator(asked: tuple) -> bool:
    _kind, key = asked
    return any(
        _SEPARATOR in part for part in (key if isinstance(key, tuple) else (key,)) if isinstance(part, str)
    )


def _fetch_batch_postgres(cursor, keys: list[Keys], ids: set[int]) -> _Index:
    """PostgreSQL: what the rules need for a batch of records, in one statement (`_BATCH_SQL`).

    Then names (rule 4), folded and looked up only for the records the database
    answered nothing for by the first three rules: a second, small statement.
    """
    columns, odd = _key_columns(keys)
    # Lookups by key, and nothing else, whatever the statistics say: an import fills
    # the tables it reads, and a planner misled by stale figures once read them whole
    # for every batch (first import of a bench: 44 s instead of 18). For these statements only.
    cursor.execute(_PLAN_BY_INDEX.format(setting="off"))
    cursor.execute(_BATCH_SQL, [*columns, list(ids)])
    found = _Index()
    _add_found(found, cursor.fetchall())
    # What was asked: every NIR; the other keys of the records whose NIR the database does not know.
    undecided = []
    for k in keys:
        if k.nir:
            found.asked.add(("by_nir", k.nir))
            if k.nir in found.by_nir:
                continue
        if k.ft:
            found.asked.add(("by_ft", k.ft))
        if k.birth_date:
            if k.caf:
                found.asked.add(("by_caf", (k.caf, k.birth_date)))
            if k.msa:
                found.asked.add(("by_msa", (k.msa, k.birth_date)))
            if not (
                (k.ft and k.ft in found.by_ft)
                or (k.caf and (k.caf, k.birth_date) in found.by_caf)
                or (k.msa and (k.msa, k.birth_date) in found.by_msa)
            ):
                undecided.append(k)
    if odd:
        found.asked = {asked for asked in found.asked if not _holds_separator(asked)}
    found.asked.update(("id", beneficiary_id) for beneficiary_id in ids)
    found.merge(_fetch(cursor, True, names=[key for k in undecided for key in k.name_keys()]))
    cursor.execute(_PLAN_BY_INDEX.format(setting="on"))
    return found


def _add_found(found: _Index, rows) -> None:
    """Rows of people: a person, then their follow-up (all NULL when they have none)."""
    width = len(PERSON_FIELDS)
    for row in rows:
        found.add_person(*row[:width])
        followup = row[width + 1 :] if row[width] is not None else None
        found.followups[row[0]] = followup
        if followup is not None:
            found.add_ft(row[0], followup[0], followup[1])


# Cessation motive 46, "changement de site": the person gets a new identifier.
SITE_CHANGE_MOTIVE = "46"


def site_change_keys(
    nir: str | None, birth_name: str | None, first_name: str | None, birth_date: date | None
) -> list[tuple]:
    """What a record carrying a new identifier is recognised by: NIR, or names, with the birth date."""
    if birth_date is None:
        return []
    keys: list[tuple] = []
    if nir_key(nir):
        keys.append(("nir", nir_key(nir), birth_date))
    names = (name_key(birth_name), name_key(first_name))
    if all(names):
        keys.append(("name", *names, birth_date))
    return keys


# Keys read at a time by `Matcher.named_by`.
NAMED_CHUNK = 2000


def _on_this_connection(job: Callable) -> Any:
    with connection.cursor() as cursor:
        return job(cursor)


# --- The matcher ----------------------------------------------------------------------


class Matcher:
    """The rules, over the people prefetched for the batch, and what is kept in memory (module doc).

    `run_queries(job)` runs `job(cursor)` on the database and returns its result:
    by default on this thread's connection; the PECGM import hands it to the
    thread that owns its connection.
    """

    def __init__(self, run_queries: Callable[[Callable], Any] | None = None) -> None:
        self.run_queries = run_queries or _on_this_connection
        self.postgres = connection.vendor == "postgresql"
        # Admins' decisions: ("nir", key, birth date) or ("ft", institution, identifier) -> beneficiary.
        self.confirmed: dict[tuple, int] = {}
        self.kept = _Index()
        self.known = _Index()  # the database's answer for the current batch
        self.recent = [_Index()]  # added, maybe not written yet: [previous batch, current batch]
        # Registrations ceased with motive 46: identity key -> (person, the old identifier's key,
        # the ceased record's NIR key); person 0 when two people share the key.
        self.site_changes: dict[tuple, tuple[int, tuple[str, str] | None, str]] = {}

    @classmethod
    def from_database(cls, run_queries: Callable[[Callable], Any] | None = None) -> Matcher:
        """A matcher with the review queue's decisions and the values no index finds (module doc)."""
        matcher = cls(run_queries)
        decided = ReviewCase.objects.filter(
            status__in=[ReviewStatus.LINKED, ReviewStatus.CREATED], beneficiary__isnull=False
        ).values_list("values", "beneficiary_id")
        for values, beneficiary_id in decided.iterator(chunk_size=5000):
            matcher.confirm(values, beneficiary_id)
        odd_numbers = Beneficiary.objects.exclude(caf_number="", msa_number="").exclude(
            caf_number__regex=CLEAN_PATTERN, msa_number__regex=CLEAN_PATTERN
        )
        for row in odd_numbers.values_list(*PERSON_FIELDS).iterator(chunk_size=5000):
            matcher.kept.add_person(*row)
        moved = FollowUp.objects.filter(
            cessation_motive=SITE_CHANGE_MOTIVE, cessation_date__isnull=False, status=FollowUpStatus.CEASED
        ).values_list(
            "beneficiary_id",
            "nir",
            "birth_name",
            "first_name",
            "birth_date",
            "ft_institution_code",
            "ft_identifier",
        )
        for beneficiary_id, nir, birth_name, first_name, birth_date, institution, ident in moved.iterator(
            chunk_size=5000
        ):
            matcher.site_changed(
                beneficiary_id, nir, birth_name, first_name, birth_date, ft_key(institution, ident)
            )
        odd_identifiers = FollowUp.objects.exclude(ft_identifier__regex=CLEAN_PATTERN)
        for beneficiary_id, institution, ident in odd_identifiers.values_list(
            "beneficiary_id", "ft_institution_code", "ft_identifier"
        ).iterator(chunk_size=5000):
            matcher.kept.add_ft(beneficiary_id, institution, ident)
        return matcher

    def confirm(self, values: dict, beneficiary_id: int) -> None:
        """Remember that a record with these identifiers is this beneficiary (an admin said so)."""
        try:
            birth_date = date.fromisoformat(values.get("birth_date") or "")
        except (TypeError, ValueError):
            birth_date = None
        key = nir_key(values.get("nir"))
        if key and birth_date:
            self.confirmed[("nir", key, birth_date)] = beneficiary_id
        ft = ft_key(values.get("ft_institution_code"), values.get("ft_identifier"))
        if ft:
            self.confirmed[("ft", *ft)] = beneficiary_id

    # --- batches --------------------------------------------------------------------

    def prefetch_job(self, keys: list[Keys]) -> Callable:
        """The queries that read what the rules need for these records: `job(cursor) -> _Index`.

        Made here, run by `run_queries` or by whoever owns the connection (the
        PECGM import runs it on its writer thread, ahead of the batch), then
        handed to `use()`. Keys come from `record_keys()`.
        """
        postgres = self.postgres
        nirs = [k.nir for k in keys if k.nir]
        fts = [k.ft for k in keys if k.ft]
        cafs = [(k.caf, k.birth_date) for k in keys if k.caf and k.birth_date]
        msas = [(k.msa, k.birth_date) for k in keys if k.msa and k.birth_date]
        # Decisions, and what is kept in memory, point at people the batch's keys may not
        # find in the database: they are asked for by id (with their follow-up).
        ids = set()
        for k in keys:
            for decided in (("nir", k.nir, k.birth_date) if k.nir else None, ("ft", *k.ft) if k.ft else None):
                if decided and decided in self.confirmed:
                    ids.add(self.confirmed[decided])
        kept = self.kept
        for index, kind_keys in (
            (kept.by_ft, fts),
            (kept.by_caf, cafs),
            (kept.by_msa, msas),
        ):
            for key in kind_keys:
                ids.update(_ids(index, key))

        def job(cursor) -> _Index:
            if postgres:
                return _fetch_batch_postgres(cursor, keys, ids)
            names = [key for k in keys for key in k.name_keys()]
            found = _Index()
            longest = max(len(nirs), len(fts), len(cafs), len(msas), len(names), 1)
            for start in range(0, longest, SQLITE_CHUNK):
                part = slice(start, start + SQLITE_CHUNK)
                found.merge(
                    _fetch(
                        cursor,
                        postgres,
                        nirs=nirs[part],
                        fts=fts[part],
                        cafs=cafs[part],
                        msas=msas[part],
                        names=names[part],
                        ids=ids if start == 0 else (),
                    )
                )
            return found

        return job

    def prefetch(self, identities: Iterable[dict]) -> None:
        """Read now what the rules need for these records (`match()` then asks nothing more)."""
        self.use(self.run_queries(self.prefetch_job([record_keys(**identity) for identity in identities])))

    def use(self, found: _Index) -> None:
        """The database's answer for the next records (from `prefetch_job`)."""
        self.known = found

    def next_batch(self) -> None:
        """A new batch starts: forget what was added two batches ago, the database has it now.

        (The PECGM import writes a batch while it matches the next one, and
        prefetches one batch ahead: the answer it uses was read after every
        batch but the previous one was written.)
        """
        self.recent = [self.recent[-1], _Index()]

    def site_changed(
        self,
        beneficiary_id: int,
        nir: str | None,
        birth_name: str | None,
        first_name: str | None,
        birth_date: date | None,
        old_ft: tuple[str, str] | None,
    ) -> None:
        """This person's registration ceased with motive 46: their new identifier is expected."""
        nir = nir_key(nir)
        for key in site_change_keys(nir, birth_name, first_name, birth_date):
            known = self.site_changes.get(key)
            # Two people behind one identity: nobody is chosen (the rules' review stands).
            same = known is None or known[0] == beneficiary_id
            self.site_changes[key] = (beneficiary_id, old_ft, nir) if same else (0, None, "")

    def site_change(self, k: Keys) -> MatchResult | None:
        """The person a record with a new identifier moved from (motive 46), if exactly one.

        Not when the record carries the old identifier itself, nor a NIR other than the
        ceased record's.
        """
        if k.ft is None:
            return None
        for key in site_change_keys(k.nir, k.birth_name, k.first_name, k.birth_date):
            known = self.site_changes.get(key)
            if known is None:
                continue
            beneficiary_id, old_ft, nir = known
            if beneficiary_id and old_ft != k.ft and not (nir and k.nir and nir != k.nir):
                return MatchResult(beneficiary_id, MatchRule.SITE_CHANGE)
            return None
        return None

    def named_by(self, keys: list[Keys]) -> set[int]:
        """Everyone a NIR key or a France Travail identifier of these records names, doubtful or not.

        For records refused by the reader: no rule decides who they are, but
        whoever they name was received (exchanges.pecgm_stock.mark_unreadable).
        """
        named: set[int] = set()
        for start in range(0, len(keys), NAMED_CHUNK):
            part = keys[start : start + NAMED_CHUNK]
            self.use(self.run_queries(self.prefetch_job(part)))
            for k in part:
                if k.nir:
                    named.update(self._lookup("by_nir", k.nir))
                if k.ft:
                    named.update(self._lookup("by_ft", k.ft))
        return named

    # --- what an import adds -----------------------------------------------------------

    def add(self, beneficiary: Beneficiary) -> None:
        """Remember a beneficiary created since the batch's people were read (written later)."""
        beneficiary.refresh_keys()
        row = tuple(getattr(beneficiary, name) for name in PERSON_FIELDS)
        self.recent[-1].add_person(*row)
        if not (_is_clean(beneficiary.caf_number) and _is_clean(beneficiary.msa_number)):
            # No index will find these numbers once written: keep this person for the whole run.
            self.kept.add_person(*row)

    def add_ft_identifier(self, beneficiary_id: int, key: tuple[str, str] | None, identifier: str | None):
        """A record of this beneficiary carried this identifier (`key`: its `ft_key`): later records
        with it find them.

        The import writes it in the follow-up; an identifier a follow-up will not
        hold (see `keep_ft_identifier`) or that no index finds (`identifier`, as
        received, is not its own key) is kept for the run.
        """
        if key is None:
            return
        recent = self.recent[-1]
        _put(recent.by_ft, key, beneficiary_id)
        # Who they are, for the rules' checks, while the database may not say it yet.
        person = self._person(beneficiary_id)
        if person is not None:
            recent.people[beneficiary_id] = person
        if identifier != key[1]:
            self.keep_ft_identifier(beneficiary_id, key)

    def keep_ft_identifier(self, beneficiary_id: int, key: tuple[str, str]):
        """An identifier (its `ft_key`) no follow-up holds (any more): found until the end of the run."""
        _put(self.kept.by_ft, key, beneficiary_id)

    # --- looking up -----------------------------------------------------------------

    _READ_AS = {"by_nir": "nirs", "by_ft": "fts", "by_caf": "cafs", "by_msa": "msas", "by_name": "names"}

    def _lookup(self, kind: str, key) -> list[int]:
        """The ids under a key: the database's (read if not prefetched) and those kept or added."""
        known = self.known
        if (kind, key) not in known.asked:
            self._read(self._READ_AS[kind], key)
        ids = _ids(getattr(known, kind), key)
        added = False
        for index in (self.kept, *self.recent):  # small dicts: the database answers nearly all
            more = getattr(index, kind).get(key)
            if more is not None:
                ids += more if more.__class__ is list else [more]
                added = True
        return sorted(set(ids)) if added or len(ids) > 1 else ids

    def _person(self, beneficiary_id: int) -> Person | None:
        person = self.known.people.get(beneficiary_id)
        if person is not None:
            return person
        for index in (self.recent[-1], self.recent[0], self.kept):
            if (person := index.people.get(beneficiary_id)) is not None:
                return person
        if ("id", beneficiary_id) not in self.known.asked:
            self._read("ids", beneficiary_id)
            return self.known.people.get(beneficiary_id)
        return None

    def followup(self, beneficiary_id: int) -> tuple | None:
        """The current follow-up of a person found (FOLLOWUP_FIELDS), None when they have none."""
        if beneficiary_id not in self.known.followups:
            self._read("ids", beneficiary_id)
        return self.known.followups.get(beneficiary_id)

    def _read(self, what: str, key) -> None:
        """A key the prefetch did not ask for (or no prefetch): read it now."""
        postgres = self.postgres
        self.known.merge(self.run_queries(lambda cursor: _fetch(cursor, postgres, **{what: [key]})))

    def match(self, **identity) -> MatchResult:
        """Match one record given by its identity fields (`IDENTITY_FIELDS`, as `record_keys()` takes)."""
        return self.match_keys(record_keys(**identity))

    def match_keys(self, k: Keys) -> MatchResult:
        """`match()` for keys already computed (`record_keys`): the PECGM import computes them once."""
        key, caf, msa, ft, birth_date = k.nir, k.caf, k.msa, k.ft, k.birth_date

        # 0. A decision taken in the review queue.
        for decided in (("nir", key, birth_date) if key else None, ("ft", *ft) if ft else None):
            if decided and decided in self.confirmed and self._person(self.confirmed[decided]):
                return MatchResult(self.confirmed[decided], MatchRule.CONFIRMED)

        # 1. NIR: certain, unless the birth date says otherwise.
        if key and (ids := self._lookup("by_nir", key)):
            same_birth = [i for i in ids if self._person(i).birth_date == birth_date]
            if len(ids) == 1 and same_birth:
                return MatchResult(ids[0], MatchRule.NIR)
            reason = ReviewReason.SEVERAL_CANDIDATES if same_birth else ReviewReason.NIR_CONFLICT
            return MatchResult(rule=MatchRule.NIR, review_reason=reason, candidates=ids)

        def decide(rule: str, ids) -> MatchResult | None:
            ids = sorted(set(ids))
            if not ids:
                return None
            if len(ids) > 1:
                return MatchResult(rule=rule, review_reason=ReviewReason.SEVERAL_CANDIDATES, candidates=ids)
            person = self._person(ids[0])
            if self._disagrees(person, rule, nir_key=key, birth_date=birth_date, caf=caf, msa=msa):
                return MatchResult(rule=rule, review_reason=ReviewReason.IDENTIFIER_MISMATCH, candidates=ids)
            return MatchResult(person.id, rule)

        # 2. France Travail identifier seen in an earlier file.
        if ft and (result := decide(MatchRule.FT_IDENTIFIER, self._lookup("by_ft", ft))):
            return result

        # 3. CAF or MSA number, with the birth date.
        if birth_date is not None:
            ids = []
            if caf:
                ids += self._lookup("by_caf", (caf, birth_date))
            if msa:
                ids += self._lookup("by_msa", (msa, birth_date))
            if result := decide(MatchRule.CAF_MSA, ids):
                return result

            # 4. Names and birth date: either name of the record against either name known.
            ids = []
            for name_keys in k.name_keys():
                ids += self._lookup("by_name", name_keys)
            if result := decide(MatchRule.NAME, ids):
                return result
        return MatchResult()

    @staticmethod
    def _disagrees(person: Person, rule: str, *, nir_key: str, birth_date, caf: str, msa: str) -> bool:
        """Does another identifier, known on both sides, contradict the match?"""
        if nir_key and person.nir_key and nir_key != person.nir_key:
            return True
        if rule == MatchRule.FT_IDENTIFIER and birth_date and person.birth_date != birth_date:
            return True
        if rule == MatchRule.NAME:
            if caf and person.caf_number and caf != person.caf_number:
                return True
            if msa and person.msa_number and msa != person.msa_number:
                return True
        return False
