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

Nothing is linked when it is not certain: a NIR known with another birth
date, two candidates, or a match contradicted by another identifier come
back with a `review_reason` and the candidates, for an admin to decide.

The indexes are built once (`Matcher.from_database()`: a handful of queries,
none per record) and kept up to date with `add()` as an import creates
people. Other importers (the orientations CSV) find people the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from beneficiaries.models import Beneficiary
from beneficiaries.names import name_key
from beneficiaries.nir import nir_key
from exchanges.models import FollowUp, MatchRule, ReviewCase, ReviewReason, ReviewStatus


class Person(NamedTuple):
    """What the matcher remembers of a beneficiary: identifiers only.

    A named tuple rather than a dataclass: one is built per beneficiary at each
    import (hundreds of thousands), and a tuple is both quicker to make and smaller.
    """

    id: int
    nir_key: str
    birth_date: date
    caf_number: str
    msa_number: str


def _put(index: dict, key, beneficiary_id: int) -> None:
    """Index a beneficiary under a key: one id per key, a list only when people share it.

    Nearly every key belongs to one person, and an int costs a fraction of a list or a set.
    """
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


class Matcher:
    def __init__(self) -> None:
        # Each index maps a key to a beneficiary id, or to a list of them (see `_put`).
        self.people: dict[int, Person] = {}
        self.by_nir: dict[str, int | list[int]] = {}
        self.by_ft: dict[tuple[str, str], int | list[int]] = {}
        self.by_caf: dict[tuple[str, date], int | list[int]] = {}
        self.by_msa: dict[tuple[str, date], int | list[int]] = {}
        self.by_name: dict[tuple[str, str, date], int | list[int]] = {}
        self._shared: dict = {}
        # Admins' decisions: ("nir", key, birth date) or ("ft", institution, identifier) -> beneficiary.
        self.confirmed: dict[tuple, int] = {}

    @classmethod
    def from_database(cls) -> Matcher:
        matcher = cls()
        rows = Beneficiary.objects.values_list(
            "id",
            "nir_key",
            "birth_date",
            "caf_number",
            "msa_number",
            "birth_name_key",
            "usage_name_key",
            "first_name_key",
        )
        for row in rows.iterator(chunk_size=5000):
            matcher._add_row(*row)
        for beneficiary_id, institution, ident in FollowUp.objects.values_list(
            "beneficiary_id", "ft_institution_code", "ft_identifier"
        ).iterator(chunk_size=5000):
            matcher.add_ft_identifier(beneficiary_id, institution, ident)
        decided = ReviewCase.objects.filter(
            status__in=[ReviewStatus.LINKED, ReviewStatus.CREATED], beneficiary__isnull=False
        ).values_list("values", "beneficiary_id")
        for values, beneficiary_id in decided.iterator(chunk_size=5000):
            matcher.confirm(values, beneficiary_id)
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

    def _add_row(self, id_, nir_key_, birth_date, caf, msa, birth_key, usage_key, first_key) -> None:
        caf = caf.strip().upper() if caf else ""
        msa = msa.strip().upper() if msa else ""
        # Birth dates and names repeat across hundreds of thousands of people: one object each.
        shared = self._shared
        birth_date = shared.setdefault(birth_date, birth_date)
        birth_key = shared.setdefault(birth_key, birth_key)
        usage_key = shared.setdefault(usage_key, usage_key)
        first_key = shared.setdefault(first_key, first_key)
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

    def add(self, beneficiary: Beneficiary) -> None:
        """Remember a beneficiary created (or changed) since the indexes were built."""
        beneficiary.refresh_keys()
        self._add_row(
            beneficiary.pk,
            beneficiary.nir_key,
            beneficiary.birth_date,
            beneficiary.caf_number,
            beneficiary.msa_number,
            beneficiary.birth_name_key,
            beneficiary.usage_name_key,
            beneficiary.first_name_key,
        )

    def add_ft_identifier(self, beneficiary_id: int, institution_code: str | None, identifier: str | None):
        key = ft_key(institution_code, identifier)
        if key:
            _put(self.by_ft, (self._shared.setdefault(key[0], key[0]), key[1]), beneficiary_id)

    def match(
        self,
        *,
        birth_date: date | None,
        nir: str | None = None,
        birth_name: str | None = None,
        usage_name: str | None = None,
        first_name: str | None = None,
        caf_number: str | None = None,
        msa_number: str | None = None,
        ft_identifier: str | None = None,
        ft_institution_code: str | None = None,
    ) -> MatchResult:
        key = nir_key(nir)
        caf, msa = _clean(caf_number), _clean(msa_number)
        ft = ft_key(ft_institution_code, ft_identifier)

        # 0. A decision taken in the review queue.
        for decided in (("nir", key, birth_date) if key else None, ("ft", *ft) if ft else None):
            if decided and self.confirmed.get(decided) in self.people:
                return MatchResult(self.confirmed[decided], MatchRule.CONFIRMED)

        # 1. NIR: certain, unless the birth date says otherwise.
        if key and (ids := _ids(self.by_nir, key)):
            same_birth = [i for i in ids if self.people[i].birth_date == birth_date]
            if len(ids) == 1 and same_birth:
                return MatchResult(ids[0], MatchRule.NIR)
            reason = ReviewReason.SEVERAL_CANDIDATES if same_birth else ReviewReason.NIR_CONFLICT
            return MatchResult(rule=MatchRule.NIR, review_reason=reason, candidates=sorted(ids))

        def decide(rule: str, ids) -> MatchResult | None:
            ids = sorted(set(ids))
            if not ids:
                return None
            if len(ids) > 1:
                return MatchResult(rule=rule, review_reason=ReviewReason.SEVERAL_CANDIDATES, candidates=ids)
            person = self.people[ids[0]]
            if self._disagrees(person, rule, nir_key=key, birth_date=birth_date, caf=caf, msa=msa):
                return MatchResult(rule=rule, review_reason=ReviewReason.IDENTIFIER_MISMATCH, candidates=ids)
            return MatchResult(person.id, rule)

        # 2. France Travail identifier seen in an earlier file.
        if ft and (result := decide(MatchRule.FT_IDENTIFIER, _ids(self.by_ft, ft))):
            return result

        # 3. CAF or MSA number, with the birth date.
        if birth_date is not None:
            ids = []
            if caf:
                ids += _ids(self.by_caf, (caf, birth_date))
            if msa:
                ids += _ids(self.by_msa, (msa, birth_date))
            if result := decide(MatchRule.CAF_MSA, ids):
                return result

            # 4. Names and birth date: either name of the record against either name known.
            first = name_key(first_name)
            ids = []
            for name in {name_key(birth_name), name_key(usage_name)}:
                if name and first:
                    ids += _ids(self.by_name, (name, first, birth_date))
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
