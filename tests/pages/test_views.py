"""The caseworker pages: search, filters, sorting, parcours, cohorts, dashboard, exports."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contract.layouts import CATEGORIES
from exchanges.models import StatusEvent
from pages.versioned_cache import invalidate_dashboard
from tests.beneficiaries.factories import (
    ImportRunFactory,
    ReviewCaseFactory,
    StatusEventFactory,
    followup,
    registered,
    snapshot,
)
from tests.factories import TEST_PASSWORD, BeneficiaryFactory
from tests.orientations.factories import DecisionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer_client(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    return client


def names(response) -> list[str]:
    return [b.birth_name for b in response.context["page"]]


def search(client, url, text, **filters):
    """The search form as a browser sends it: POSTed, then the list it redirects to."""
    return client.post(url, {"q": text, **filters}, follow=True)


# --- Search ---------------------------------------------------------------


def test_search_is_accent_and_case_insensitive(officer_client):
    eloise = BeneficiaryFactory(birth_name="Dupré", first_name="Éloïse", usage_name="Lefèvre")
    BeneficiaryFactory(birth_name="Martin", first_name="Paul")
    url = reverse("beneficiary_list")
    for query in ("eloise dupre", "DUPRÉ", "lefevre", "ÉLOÏSE"):
        assert names(search(officer_client, url, query)) == [eloise.birth_name], query


def test_search_by_identifiers(officer_client):
    person = BeneficiaryFactory(caf_number="7654321", msa_number="")
    other = BeneficiaryFactory()
    followup(other, **registered(ft_identifier="9876543Z"))
    url = reverse("beneficiary_list")
    assert names(search(officer_client, url, "7654321")) == [person.birth_name]
    assert names(search(officer_client, url, person.nir[:13])) == [person.birth_name]
    spaced = " ".join([person.nir[0], person.nir[1:3], person.nir[3:5], person.nir[5:10], person.nir[10:13]])
    assert names(search(officer_client, url, spaced)) == [person.birth_name]
    assert names(search(officer_client, url, "9876543z")) == [other.birth_name]


def test_nir_is_masked_in_the_list(officer_client):
    person = BeneficiaryFactory()
    body = officer_client.get(reverse("beneficiary_list")).content.decode()
    assert person.masked_nir in body
    assert person.nir not in body


def test_search_text_stays_out_of_urls(officer_client):
    person = BeneficiaryFactory(birth_name="Zéphyrin", usage_name="")
    url = reverse("beneficiary_list")
    response = search(officer_client, url, "zephyrin", statut="", categorie="1")
    location = response.redirect_chain[-1][0]
    assert response.redirect_chain[-1][1] == 303
    assert "s=" in location and "categorie=1" in location and "zephyrin" not in location.lower()
    assert names(response) == []  # category 1: nobody
    body = response.content.decode()
    assert 'value="zephyrin"' in body  # the box still shows the text
    # Sort and page links carry the token, never the text.
    links = [part.split('"', 1)[0] for part in body.split('href="')[1:]]
    assert not any("zephyrin" in link.lower() for link in links)
    # The same list without the category, from its bookmarkable URL.
    token = location.split("s=", 1)[1].split("&", 1)[0]
    assert names(officer_client.get(url, {"s": token})) == [person.birth_name]


def test_old_search_links_and_stale_tokens(officer_client, social_worker):
    BeneficiaryFactory(birth_name="Zéphyrin", usage_name="")
    url = reverse("beneficiary_list")
    response = officer_client.get(url, {"q": "zephyrin", "tri": "-nom"})
    assert response.status_code == 303
    assert "zephyrin" not in response["Location"] and "s=" in response["Location"]
    assert names(officer_client.get(response["Location"])) == ["Zéphyrin"]
    # Another session does not know the token: the list without the search, and a message.
    other = officer_client.__class__()
    other.force_login(social_worker)
    stale = other.get(response["Location"])
    body = stale.content.decode()
    assert "Cette recherche n&#x27;est plus disponible" in body
    assert 'name="q" value=""' in body


# --- Filters ----------------------------------------------------------------


def test_filters_combine_and_stay_in_links(officer_client):
    registered_one = BeneficiaryFactory(birth_name="Inscrit")
    followup(registered_one, **registered(category="1", work_axis="05"))
    other_category = BeneficiaryFactory(birth_name="Autrecat")
    followup(other_category, **registered(category="4", work_axis="05"))
    ceased = BeneficiaryFactory(birth_name="Cesse")
    followup(
        ceased,
        **registered(
            cessation_date=date(2025, 1, 20), cessation_motive="11", cessation_motive_label="reprise"
        ),
    )
    nobody = BeneficiaryFactory(birth_name="Inconnu")
    url = reverse("beneficiary_list")

    response = officer_client.get(url, {"statut": "inscrit", "categorie": "1", "axe": "05"})
    assert names(response) == ["Inscrit"]
    assert sorted(names(officer_client.get(url, {"statut": "inscrit"}))) == ["Autrecat", "Inscrit"]
    assert names(officer_client.get(url, {"statut": "cessation", "motif_cessation": "11"})) == ["Cesse"]
    assert names(officer_client.get(url, {"statut": "inconnu"})) == [nobody.birth_name]
    assert names(officer_client.get(url, {"cessation_du": "2025-01-01", "cessation_au": "2025-01-31"})) == [
        "Cesse"
    ]
    # Sort links keep the filters.
    body = officer_client.get(url, {"statut": "inscrit"}).content.decode()
    assert "statut=inscrit&amp;tri=-nom" in body


def test_orientation_absent_and_review_filters(officer_client):
    oriented = DecisionFactory(nature="05", decision_date=date(2024, 10, 1)).beneficiary
    absent = BeneficiaryFactory(birth_name="Absent")
    followup(absent, absent=True, **registered())
    reviewed = BeneficiaryFactory(birth_name="Averifier")
    case = ReviewCaseFactory()
    case.candidates.add(reviewed)
    url = reverse("beneficiary_list")
    assert names(officer_client.get(url, {"nature": "05"})) == [oriented.birth_name]
    assert names(
        officer_client.get(url, {"orientation_du": "2024-09-01", "orientation_au": "2024-10-31"})
    ) == [oriented.birth_name]
    assert oriented.birth_name not in names(officer_client.get(url, {"nature": "aucune"}))
    assert names(officer_client.get(url, {"absent": "on"})) == ["Absent"]
    assert names(officer_client.get(url, {"a_verifier": "on"})) == ["Averifier"]


def test_invalid_filter_is_reported_and_ignored(officer_client):
    BeneficiaryFactory()
    response = officer_client.get(reverse("beneficiary_list"), {"commune": "pas-un-code", "statut": "bidon"})
    assert response.status_code == 200
    assert response.context["page"].count == 1
    assert "Certains filtres sont invalides" in response.content.decode()


def test_sorting(officer_client):
    for name in ("Bernard", "Abel", "Caron"):
        BeneficiaryFactory(birth_name=name, usage_name="")
    url = reverse("beneficiary_list")
    assert names(officer_client.get(url, {"tri": "nom"})) == ["Abel", "Bernard", "Caron"]
    assert names(officer_client.get(url, {"tri": "-nom"})) == ["Caron", "Bernard", "Abel"]
    assert names(officer_client.get(url, {"tri": "n-importe-quoi"})) == ["Abel", "Bernard", "Caron"]


def test_list_queries_do_not_grow_with_rows(officer_client, django_assert_max_num_queries):
    run = ImportRunFactory()
    for index in range(60):
        person = BeneficiaryFactory()
        followup(person, run=run, record_number=index, **registered())
        if index % 2:
            DecisionFactory(beneficiary=person)
    url = reverse("beneficiary_list")
    officer_client.get(url)  # warm the caches of filter choices
    with django_assert_max_num_queries(12):
        response = officer_client.get(url, {"statut": "inscrit", "tri": "-orientation"})
    assert len(response.context["page"].rows) == 50
    assert response.context["page"].count == 60


def test_counts_stop_at_the_cap_and_so_do_pages(officer_client, monkeypatch):
    from pages import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    monkeypatch.setattr(listing, "COUNT_CAP", 4)
    for name in ("Abel", "Bernard", "Caron", "Dumas", "Esnault", "Fabre", "Gautier"):
        BeneficiaryFactory(birth_name=name, usage_name="")
    url = reverse("beneficiary_list")
    first = officer_client.get(url)
    assert (first.context["page"].count, first.context["page"].capped) == (4, True)
    assert "Plus de 4 bénéficiaires" in first.content.decode()
    assert names(first) == ["Abel", "Bernard"]
    # Page 9 does not exist past the cap: the last reachable page says to narrow the search.
    last = officer_client.get(url, {"page": "9"})
    assert last.context["page"].number == 2 and not last.context["page"].has_next
    assert names(last) == ["Caron", "Dumas"]
    assert 'id="count-cap"' in last.content.decode()


@pytest.mark.parametrize("sort", ["nom", "-inscription", "contact", "statut", "-orientation", "naissance"])
def test_a_list_under_the_cap_is_found_then_sorted_in_the_order_of_the_sort(
    officer_client, monkeypatch, sort
):
    """Under the cap the ids are found first and sorted second; over it, PostgreSQL walks the sort.

    Both ways must give the same order: the page shown is the same whichever way it was read.
    """
    from pages import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 4)
    run = ImportRunFactory()
    for index in range(12):
        person = BeneficiaryFactory(birth_name=f"Nom{index % 5}", usage_name="")
        if index % 4:
            followup(
                person,
                run=run,
                record_number=index,
                **registered(
                    registration_date=date(2024, 1, 1) + timedelta(days=index % 3),
                    last_contact_date=None
                    if index % 5 == 0
                    else date(2024, 6, 1) + timedelta(days=index % 2),
                ),
            )
        if index % 3:
            DecisionFactory(beneficiary=person, decision_date=date(2024, 3, 1) + timedelta(days=index % 2))
    url = reverse("beneficiary_list")

    def all_pages() -> list[int]:
        seen = []
        for number in (1, 2, 3):
            response = officer_client.get(url, {"tri": sort, "page": str(number)})
            seen += [row.pk for row in response.context["page"]]
        return seen

    found_then_sorted = all_pages()
    assert len(found_then_sorted) == 12
    monkeypatch.setattr(listing, "COUNT_CAP", 8)  # now over the cap: the sorted walk, pages 1-2
    invalidate_dashboard()
    assert all_pages()[:8] == found_then_sorted[:8]


def test_a_search_counts_past_what_may_be_browsed(officer_client, monkeypatch):
    from pages import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    monkeypatch.setattr(listing, "SEARCH_COUNT_CAP", 4)
    for first_name in ("Anne", "Bruno", "Chloé", "David", "Emma", "Farid"):
        BeneficiaryFactory(birth_name="Martin", first_name=first_name, usage_name="")
    BeneficiaryFactory(birth_name="Durand", first_name="Zoé", usage_name="")  # not a random "Martine"
    url = reverse("beneficiary_list")
    first = search(officer_client, url, "martin")
    assert (first.context["page"].count, first.context["page"].capped) == (6, False)
    assert "6 bénéficiaires" in first.content.decode()
    token = first.request["QUERY_STRING"]
    last = officer_client.get(f"{url}?{token}&page=9")
    assert last.context["page"].number == 2 and not last.context["page"].has_next
    assert [row.name for row in last.context["page"]] == ["MARTIN Chloé", "MARTIN David"]
    assert "Seuls les 4 premiers bénéficiaires" in last.content.decode()


def test_cached_counts_and_pages_follow_changes_to_people(officer_client, monkeypatch):
    from pages import versioned_cache

    monkeypatch.setattr(versioned_cache, "_FINGERPRINT_TTL", 0)
    # Fixed first names: a random one could be "Martine".
    person = BeneficiaryFactory(birth_name="Martin", first_name="Paul", usage_name="")
    url = reverse("beneficiary_list")
    assert names(search(officer_client, url, "martin")) == ["Martin"]
    BeneficiaryFactory(birth_name="Martinez", first_name="Luc", usage_name="")
    response = search(officer_client, url, "martin")
    assert response.context["page"].count == 2 and names(response) == ["Martin", "Martinez"]
    person.birth_name = "Durand"
    person.save()
    assert names(search(officer_client, url, "martin")) == ["Martinez"]


def test_with_javascript_the_search_answers_with_the_list_and_its_url(officer_client):
    BeneficiaryFactory(birth_name="Martin", first_name="Paul", usage_name="")
    BeneficiaryFactory(birth_name="Durand", first_name="Zoé", usage_name="")
    url = reverse("beneficiary_list")
    response = officer_client.post(url, {"q": "martin", "statut": ""}, headers={"HX-Request": "true"})
    # One round trip: the list itself, and the URL the browser shows for it (text behind a token).
    assert response.status_code == 200
    assert names(response) == ["Martin"]
    pushed = response["HX-Push-Url"]
    assert pushed.startswith(f"{url}?s=") and "martin" not in pushed.lower()
    assert "HX-Request" in response["Vary"]
    # The sort and page links carry the token, as after the redirect.
    assert f"{pushed.split('?')[1]}&amp;tri=-nom" in response.content.decode()
    # That URL, reloaded or bookmarked, shows the same list.
    assert names(officer_client.get(pushed)) == ["Martin"]
    # Without JavaScript the form still redirects.
    assert officer_client.post(url, {"q": "martin"}).status_code == 303


def test_with_javascript_the_search_sends_back_the_results_only(officer_client):
    BeneficiaryFactory(birth_name="Martin", first_name="Paul", usage_name="", commune_code="82121")
    url = reverse("beneficiary_list")
    response = officer_client.post(url, {"q": "martin", "commune": "82121"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    # The results and the "clear the filters" link (out of band): not the form, not the page around.
    assert body.lstrip().startswith('<div id="resultats">') and 'id="filters"' not in body
    assert 'id="effacer-filtres" hx-swap-oob="true"' in body and "Effacer les filtres" in body
    assert names(response) == ["Martin"] and "HX-Retarget" not in response

    # An invalid filter: the whole content comes back, the form saying what was ignored.
    response = officer_client.post(url, {"q": "martin", "commune": "8212"}, headers={"HX-Request": "true"})
    assert response["HX-Retarget"] == response["HX-Reselect"] == "#contenu"
    body = response.content.decode()
    assert 'id="filters"' in body and "Certains filtres sont invalides" in body
    assert names(response) == ["Martin"]  # the valid ones still apply


# --- Parcours -----------------------------------------------------------------


def test_parcours_shows_status_codes_in_words_and_a_timeline(officer_client):
    person = BeneficiaryFactory()
    december = ImportRunFactory(reference_date=date(2024, 12, 31))
    january = ImportRunFactory(reference_date=date(2025, 1, 31))
    snapshot(person, december, record_number=7, **registered(support_mode="APR"))
    followup(person, run=january, record_number=9, **registered())
    StatusEventFactory(beneficiary=person, run=december, date=date(2024, 6, 3), kind="new_registration")
    DecisionFactory(beneficiary=person, nature="06", decision_date=date(2024, 5, 2))

    response = officer_client.get(reverse("beneficiary_detail", args=[person.pk]))
    body = response.content.decode()
    assert "données France Travail au 31/01/2025" in body
    # The annexe's own words (« A approfondir », « Elaboration » without its accent).
    assert "05 — Elaboration du projet professionnel" in body
    assert "GUI — Accompagnement guidé" in body
    timeline = response.context["timeline"]
    kinds = [entry.kind for entry in timeline]
    assert kinds.count("snapshot") == 2 and "event" in kinds and "decision" in kinds
    change = timeline[0]
    assert change.day == date(2025, 1, 31)
    assert [(c.before, c.after) for c in change.changes] == [
        ("APR — A approfondir", "GUI — Accompagnement guidé")
    ]
    assert "PECGM_082_20250131_M.xml, enregistrement n° 9" in change.source
    assert person.nir not in body  # masked in the timeline too
    assert 'id="orientation"' in body  # the orientations panel


def test_parcours_lists_a_month_only_when_something_changed(officer_client):
    person = BeneficiaryFactory()
    months = [ImportRunFactory(reference_date=date(2025, month, 28)) for month in (1, 2, 3, 4)]
    snapshot(person, months[0], record_number=1, **registered())
    snapshot(person, months[1], record_number=2, **registered())  # the same as January
    snapshot(person, months[2], record_number=3, **registered(work_axis="03", commune_code="82033"))
    followup(person, run=months[3], record_number=4, **registered(work_axis="03", commune_code="82033"))
    StatusEventFactory(
        beneficiary=person,
        run=months[2],
        date=date(2025, 3, 10),
        kind="cessation",
        motive="43",
        motive_label="fin de contrat de travail temporaire ou CDD (catégorie 5 uniquement)",
    )
    DecisionFactory(
        beneficiary=person, nature="02", decision_date=date(2024, 12, 2), ended_on=date(2025, 2, 1)
    )
    current = DecisionFactory(beneficiary=person, nature="01", decision_date=date(2025, 2, 1))

    response = officer_client.get(reverse("beneficiary_detail", args=[person.pk]))
    snapshots = [entry for entry in response.context["timeline"] if entry.kind == "snapshot"]
    # January, then March: February and April repeat the month before.
    assert [entry.day for entry in snapshots] == [date(2025, 3, 28), date(2025, 1, 28)]
    march = {change.label: (change.before, change.after) for change in snapshots[0].changes}
    assert march == {
        "Commune de résidence (code INSEE)": ("—", "Castelsarrasin (82033)"),
        "Axe de travail principal": (
            "05 — Elaboration du projet professionnel",  # the annexe's words, verbatim
            "03 — Stratégie de recherche d'emploi",
        ),
    }
    assert snapshots[0].source.endswith("enregistrement n° 3")
    [event] = [entry for entry in response.context["timeline"] if entry.kind == "event"]
    assert event.detail == "motif : 43 fin de contrat de travail temporaire ou CDD (catégorie 5 uniquement)"
    assert not event.positive  # the end of a temporary contract, not a training entry
    assert event.source == f"fichier {months[2].file_name}"
    # The orientation panel (one query for both figures): the decision in force, out of two.
    from orientations.templatetags.orientations import orientation_summary

    assert orientation_summary(person) == {"current": current, "count": 2}


def test_parcours_shows_the_last_two_years_and_all_of_it_on_request(officer_client):
    person = BeneficiaryFactory()
    # 30 monthly stocks, July 2022 to December 2024: the window is January 2023 to December 2024.
    runs = [
        ImportRunFactory(reference_date=date(2022 + (6 + n) // 12, (6 + n) % 12 + 1, 28)) for n in range(30)
    ]
    for number, run in enumerate(runs[:-1], start=1):
        # Category 2 for the first three months, then 1; the support mode changes in June 2023.
        support_mode = "APR" if run.reference_date < date(2023, 6, 1) else "GUI"
        snapshot(
            person,
            run,
            record_number=number,
            **registered(category="2" if number <= 3 else "1", support_mode=support_mode),
        )
    followup(person, run=runs[-1], record_number=30, **registered(category="1", support_mode="GUI"))
    StatusEventFactory(beneficiary=person, run=runs[0], date=date(2022, 7, 5), kind="new_registration")
    StatusEventFactory(beneficiary=person, run=runs[12], date=date(2023, 7, 5), kind="category_change")
    DecisionFactory(beneficiary=person, nature="02", decision_date=date(2022, 8, 1))
    url = reverse("beneficiary_detail", args=[person.pk])

    response = officer_client.get(url)
    timeline = response.context["timeline"]
    assert min(entry.day for entry in timeline) >= date(2023, 1, 1)
    # January 2023 is compared with December 2022 (not shown): no "first situation" in the window.
    snapshots = [entry for entry in timeline if entry.kind == "snapshot"]
    assert [entry.day for entry in snapshots] == [date(2023, 6, 28)]
    assert [entry.kind for entry in timeline if entry.kind != "snapshot"] == [
        "unchanged",
        "event",
        "unchanged",
    ]
    # The months that repeat the values before them, together, with the record that set them.
    newest, oldest = (entry for entry in timeline if entry.kind == "unchanged")
    assert (newest.day, newest.title, newest.source) == (
        date(2024, 12, 28),
        "Situation France Travail inchangée dans 18 stocks mensuels, du 28/07/2023 au 28/12/2024",
        f"inchangée depuis le fichier {runs[11].file_name}, enregistrement n° 12",
    )
    assert oldest.title.startswith("Situation France Travail inchangée dans 5 stocks mensuels, du 28/01/2023")
    body = response.content.decode()
    assert "Depuis le 01/01/2023." in body
    assert '<a href="?parcours=complet#timeline-title">Afficher tout le parcours</a>' in body

    complete = officer_client.get(url, {"parcours": "complet"})
    timeline = complete.context["timeline"]
    assert [entry.day for entry in timeline if entry.kind == "snapshot"] == [
        date(2023, 6, 28),
        date(2022, 10, 28),  # category 2 -> 1
        date(2022, 7, 28),  # the first situation received
    ]
    first = [entry for entry in timeline if entry.kind == "snapshot"][-1]
    assert first.title == "Première situation reçue de France Travail"
    assert {entry.kind for entry in timeline} == {"snapshot", "event", "decision", "unchanged"}
    assert "Afficher tout le parcours" not in complete.content.decode()


def test_a_parcours_within_the_window_offers_nothing_more(officer_client):
    person = BeneficiaryFactory()
    followup(person, run=ImportRunFactory(reference_date=date(2025, 1, 31)), **registered())
    body = officer_client.get(reverse("beneficiary_detail", args=[person.pk])).content.decode()
    assert "Depuis le 01/02/2023." in body and "Afficher tout le parcours" not in body


def test_parcours_shows_stale_data(officer_client):
    person = BeneficiaryFactory()
    followup(person, run=ImportRunFactory(reference_date=date(2024, 11, 30)), absent=True, **registered())
    ImportRunFactory(reference_date=date(2025, 1, 31))
    body = officer_client.get(reverse("beneficiary_detail", args=[person.pk])).content.decode()
    assert "données France Travail au 30/11/2024" in body
    assert 'id="stale-warning"' in body


def test_parcours_without_france_travail_data(officer_client):
    person = BeneficiaryFactory()
    body = officer_client.get(reverse("beneficiary_detail", args=[person.pk])).content.decode()
    assert "Aucune donnée reçue de France Travail" in body


# --- Cohorts ----------------------------------------------------------------------


def test_cohorts(officer_client, settings):
    settings.COHORT_NOT_REGISTERED_DAYS = 60
    run = ImportRunFactory(reference_date=date(2025, 1, 31))
    struck = BeneficiaryFactory(birth_name="Radie")
    followup(struck, run=run, **registered(radiation_date=date(2025, 1, 12), radiation_motive="21"))
    old_struck = BeneficiaryFactory(birth_name="Ancienradie")
    followup(old_struck, run=run, record_number=2, **registered(radiation_date=date(2024, 11, 12)))
    back_to_work = BeneficiaryFactory(birth_name="Emploi")
    followup(
        back_to_work,
        run=run,
        record_number=3,
        **registered(
            cessation_date=date(2025, 1, 5),
            cessation_motive="11",
            cessation_motive_label="reprise d'emploi par ses propres moyens sur emploi durable à temps plein",
        ),
    )
    today = timezone.localdate()
    late = DecisionFactory(nature="05", decision_date=today - timedelta(days=90)).beneficiary
    late.birth_name = "Noninscrit"
    late.save()
    DecisionFactory(nature="05", decision_date=today - timedelta(days=10))  # too recent
    no_contact = BeneficiaryFactory(birth_name="Sanscontact")
    followup(
        no_contact, run=run, record_number=4, **registered(last_contact_date=today - timedelta(days=200))
    )
    no_ppae = BeneficiaryFactory(birth_name="Sansppae")
    followup(
        no_ppae,
        run=run,
        record_number=5,
        **registered(ppae_signature_date=None, registration_date=today - timedelta(days=100)),
    )
    invalidate_dashboard()

    def cohort(slug):
        return names(officer_client.get(reverse("cohort_detail", args=[slug])))

    assert cohort("radies-du-mois") == ["Radie"]
    assert cohort("cessations-du-mois") == ["Emploi"]
    assert (
        "sortie positive"
        in officer_client.get(reverse("cohort_detail", args=["cessations-du-mois"])).content.decode()
    )
    assert cohort("orientes-non-inscrits") == ["Noninscrit"]
    assert "Sanscontact" in cohort("sans-contact")
    assert cohort("ppae-non-signe") == ["Sansppae"]
    # Filters apply on top of a cohort.
    assert names(search(officer_client, reverse("cohort_detail", args=["radies-du-mois"]), "personne")) == []

    home = officer_client.get(reverse("home")).content.decode()
    assert 'id="cohort-radies-du-mois"' in home
    assert officer_client.get(reverse("cohort_detail", args=["inconnue"])).status_code == 404


def test_home_counts_are_refreshed_after_invalidation(officer_client):
    ImportRunFactory()
    assert officer_client.get(reverse("cohort_index")).context["rows"][5][1] == 0  # sortis-du-fichier
    followup(BeneficiaryFactory(), absent=True, **registered())
    invalidate_dashboard()
    rows = dict(
        (cohort.slug, count) for cohort, count in officer_client.get(reverse("cohort_index")).context["rows"]
    )
    assert rows["sortis-du-fichier"] == 1


def test_before_any_pecgm_the_pages_say_no_france_travail_data_was_received(officer_client):
    person = BeneficiaryFactory(birth_name="Attente")
    DecisionFactory(beneficiary=person, nature="05", decision_date=timezone.localdate() - timedelta(days=400))
    said = "Aucune donnée France Travail reçue."
    pages = {
        "home": reverse("home"),
        "cohorts": reverse("cohort_index"),
        "list": reverse("cohort_detail", args=["orientes-non-inscrits"]),
        "dashboard": reverse("dashboard"),
    }
    # A rejected file is no data.
    ImportRunFactory(reference_date=date(2025, 1, 31), status="rejected")
    for name, url in pages.items():
        body = officer_client.get(url).content.decode()
        assert said in body, name
        assert 'id="cohorts"' not in body and 'id="result-count"' not in body, name
        assert "<svg" not in body, name
    # The first import: the lists count the month of its data.
    ImportRunFactory(reference_date=date(2025, 1, 31))
    invalidate_dashboard()
    for name, url in pages.items():
        assert said not in officer_client.get(url).content.decode(), name
    assert names(officer_client.get(pages["list"])) == ["Attente"]


# --- Dashboard ------------------------------------------------------------------------


def test_dashboard_counts_and_charts(officer_client):
    run = ImportRunFactory(reference_date=date(2025, 1, 31))
    for index in range(3):
        person = BeneficiaryFactory()
        followup(person, run=run, record_number=index, **registered(category="1"))
        StatusEventFactory(beneficiary=person, run=run, date=date(2024, 12, 3), kind="new_registration")
    DecisionFactory(nature="01", decision_date=date(2025, 1, 15))
    invalidate_dashboard()
    response = officer_client.get(reverse("dashboard"))
    data = response.context["data"]
    assert dict(data["by_status"])["inscrit"] == 3
    assert data["by_category"][0][1] == 3
    assert data["by_nature"][0][1] == 1
    december = data["months"].index(date(2024, 12, 1))
    assert data["series"]["registrations"][december] == 3
    assert data["series"]["orientations"][december + 1] == 1
    body = response.content.decode()
    assert body.count("<svg") == 4 and 'id="evolution-table"' in body
    assert "style=" not in body.split("<main", 1)[1]
    # Coordinates are numbers SVG reads: the French decimal comma would make "19,84" a list.
    coordinates = re.findall(r'\s(?:x|y|x1|x2|y1|y2|width|height)="([^"]*)"', body)
    assert coordinates and not [value for value in coordinates if "," in value]


def test_a_territory_s_dashboard_counts_the_events_of_its_people_only(client, social_worker):
    from beneficiaries.scoping import visible_beneficiaries
    from pages import dashboard
    from tests.factories import TerritoryFactory

    run = ImportRunFactory(reference_date=date(2025, 1, 31))
    for commune, registrations, cessations in (("82121", 3, 1), ("82112", 2, 0), ("82033", 4, 2)):
        for index in range(registrations + cessations):
            person = BeneficiaryFactory(commune_code=commune)
            kind = "new_registration" if index < registrations else "cessation"
            StatusEventFactory(beneficiary=person, run=run, date=date(2024, 12, 3), kind=kind)
    StatusEventFactory(beneficiary=BeneficiaryFactory(commune_code="82121"), run=run, kind="category_change")
    montauban = TerritoryFactory(name="Montauban", communes="82121")
    moissac = TerritoryFactory(name="Moissac", communes="82112")
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    for territories, expected in (([montauban], (3, 1)), ([montauban, moissac], (5, 1))):
        social_worker.territories.set(territories)
        invalidate_dashboard()
        data = client.get(reverse("dashboard")).context["data"]
        december = data["months"].index(date(2024, 12, 1))
        series = data["series"]
        assert (series["registrations"][december], series["cessations"][december]) == expected
        # The same figures as counting the territory's events through its people.
        scope = visible_beneficiaries(social_worker)
        for kind, name in dashboard.SERIES_OF_EVENTS.items():
            events = StatusEvent.objects.filter(beneficiary__in=scope, kind=kind)
            assert series[name] == [
                events.filter(date__year=month.year, date__month=month.month).count()
                for month in data["months"]
            ]


def test_a_territory_s_counts_are_those_of_its_people(client, social_worker, orientation_officer):
    """Counted once by commune for every scope (dashboard._ft_counts_by_commune), summed by territory."""
    from beneficiaries.scoping import visible_beneficiaries
    from exchanges.models import FollowUpStatus
    from pages.cohorts import cohorts
    from tests.factories import TerritoryFactory

    today = timezone.localdate()
    run = ImportRunFactory(reference_date=date(2025, 1, 31))
    profiles = [
        registered(category="1"),
        registered(category="2", last_contact_date=today - timedelta(days=400)),
        registered(radiation_date=date(2025, 1, 12), radiation_motive="21"),
        registered(cessation_date=date(2025, 1, 5), cessation_motive="11"),
        registered(ppae_signature_date=None, registration_date=today - timedelta(days=100)),
    ]
    number = 0
    for commune, people in (("82121", 7), ("82112", 4), ("82033", 9), ("", 2)):
        for index in range(people):
            person = BeneficiaryFactory(commune_code=commune)
            if index % 6 == 5:
                continue  # unknown to France Travail
            number += 1
            followup(person, run=run, record_number=number, absent=index == 3, **profiles[index % 5])
    DecisionFactory(nature="05", decision_date=today - timedelta(days=200))
    montauban = TerritoryFactory(name="Montauban", communes="82121")
    moissac = TerritoryFactory(name="Moissac", communes="82112")
    for user, territories in (
        (social_worker, [montauban]),
        (social_worker, [montauban, moissac]),
        (orientation_officer, []),
    ):
        user.territories.set(territories)
        client.login(username=user.username, password=TEST_PASSWORD)
        invalidate_dashboard()
        data = client.get(reverse("dashboard")).context["data"]
        counts = dict((cohort.slug, n) for cohort, n in client.get(reverse("cohort_index")).context["rows"])
        scope = visible_beneficiaries(user)
        assert dict(data["by_status"]) == {
            **{
                label: scope.filter(followup__status=value).count() for value, label in FollowUpStatus.choices
            },
            "aucune donnée France Travail": scope.filter(followup__isnull=True).count(),
        }
        registered_in_scope = scope.filter(followup__status=FollowUpStatus.REGISTERED)
        assert [n for _label, n in data["by_category"]] == [
            registered_in_scope.filter(followup__category=code).count() for code in CATEGORIES
        ]
        assert counts == {cohort.slug: cohort.queryset(scope).count() for cohort in cohorts()}
        assert data["total"] == scope.count() and sum(counts.values()) > 0


def test_a_decision_recomputes_the_orientation_figures_only(officer_client, monkeypatch):
    """Decisions are recorded all day: France Travail's figures wait for the next import."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from pages import versioned_cache

    monkeypatch.setattr(versioned_cache, "_FINGERPRINT_TTL", 0)
    run = ImportRunFactory(reference_date=date(2025, 1, 31))
    people = [BeneficiaryFactory() for _ in range(3)]
    for index, person in enumerate(people):
        followup(person, run=run, record_number=index, **registered(category="1"))
    DecisionFactory(beneficiary=people[0], nature="01", decision_date=date(2025, 1, 15))
    invalidate_dashboard()
    for url in (reverse("dashboard"), reverse("cohort_index"), reverse("beneficiary_list")):
        officer_client.get(url, {"statut": "inscrit"} if url == reverse("beneficiary_list") else {})

    DecisionFactory(beneficiary=people[1], nature="05", decision_date=date(2025, 1, 20))
    with CaptureQueriesContext(connection) as queries:
        response = officer_client.get(reverse("dashboard"))
        officer_client.get(reverse("cohort_index"))
        listed = officer_client.get(reverse("beneficiary_list"), {"statut": "inscrit"})
    data = response.context["data"]
    by_nature = {label[:2]: n for label, n in data["by_nature"]}
    assert (by_nature["01"], by_nature["05"]) == (1, 1)
    assert dict(data["by_status"])["inscrit"] == 3
    recomputed = [query["sql"] for query in queries if "COUNT(" in query["sql"]]
    # Orientations by nature and by month, and the one cohort that reads the decisions.
    assert len(recomputed) == 3, recomputed
    assert all("orientations_orientationdecision" in sql for sql in recomputed)
    # The list by status kept its ids: only its rows were read again.
    assert listed.context["page"].count == 3
    assert not any("LIMIT 10001" in query["sql"] for query in queries)

    invalidate_dashboard()  # an import: everything again
    with CaptureQueriesContext(connection) as queries:
        officer_client.get(reverse("dashboard"))
    assert any("exchanges_followup" in query["sql"] for query in queries)


# --- Exports -----------------------------------------------------------------------------


def test_export_is_a_french_csv_of_the_filtered_list(officer_client):
    kept = BeneficiaryFactory(birth_name="=Garde")
    followup(kept, **registered(category="1"))
    BeneficiaryFactory(birth_name="Autre")
    response = officer_client.get(reverse("beneficiary_export"), {"statut": "inscrit"})
    assert response["Content-Type"].startswith("text/csv")
    content = b"".join(response.streaming_content).decode("utf-8")
    assert content.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == 2
    assert rows[1][1] == "'=Garde"  # never a formula
    assert kept.nir not in content and kept.masked_nir in content


def test_cohort_export(officer_client):
    followup(BeneficiaryFactory(), absent=True, **registered())
    response = officer_client.get(reverse("cohort_export", args=["sortis-du-fichier"]))
    rows = list(
        csv.reader(io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff")), delimiter=";")
    )
    assert len(rows) == 2


def test_social_worker_sees_only_their_territories(client, social_worker):
    from tests.factories import TerritoryFactory

    inside = BeneficiaryFactory(birth_name="Dedans", commune_code="82121")
    outside = BeneficiaryFactory(birth_name="Dehors", commune_code="82033")
    followup(inside, **registered())
    followup(outside, record_number=2, absent=True, **registered())
    social_worker.territories.set([TerritoryFactory(name="Montauban", communes="82121")])
    invalidate_dashboard()
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    assert names(client.get(reverse("beneficiary_list"))) == ["Dedans"]
    assert names(search(client, reverse("beneficiary_list"), "dehors")) == []
    assert client.get(reverse("beneficiary_detail", args=[outside.pk])).status_code == 404
    rows = dict((c.slug, n) for c, n in client.get(reverse("cohort_index")).context["rows"])
    assert rows["sortis-du-fichier"] == 0
    assert dict(client.get(reverse("dashboard")).context["data"]["by_status"])["inscrit"] == 1
    content = b"".join(client.get(reverse("beneficiary_export")).streaming_content).decode()
    assert "Dedans" in content and "Dehors" not in content


def test_views_and_exports_are_audited(officer_client, orientation_officer):
    from audit.models import AuditEntry

    person = BeneficiaryFactory()
    officer_client.get(reverse("beneficiary_detail", args=[person.pk]))
    listed = search(officer_client, reverse("beneficiary_list"), person.birth_name, statut="inscrit")
    query = listed.redirect_chain[-1][0].split("?", 1)[1]
    response = officer_client.get(f"{reverse('beneficiary_export')}?{query}")
    b"".join(response.streaming_content)
    viewed = AuditEntry.objects.get(action="viewed_beneficiary")
    assert viewed.object_id == str(person.pk) and viewed.user == orientation_officer
    exported = AuditEntry.objects.get(action="exported")
    assert exported.extra["rows"] == 0
    assert exported.extra["filtre_statut"] == "inscrit"
    assert exported.extra["search"] is True
    assert person.birth_name not in str(exported.extra)


def test_pages_after_real_imports(officer_client, tmp_path):
    """Two monthly files through the real import: the pages follow, without invalidating by hand."""
    from exchanges.pecgm_import import import_pecgm
    from tests.exchanges.import_files import ceased, pecgm_file, record_for

    person = BeneficiaryFactory(birth_name="Importé")
    officer_client.get(reverse("cohort_index"))  # the counts are cached before the imports
    record = record_for(person, ft_identifier="7777777K")
    import_pecgm(pecgm_file(tmp_path, [record], date(2024, 12, 31)))
    import_pecgm(pecgm_file(tmp_path, [ceased(record, date(2025, 1, 20), "11")], date(2025, 1, 31)))

    assert names(search(officer_client, reverse("beneficiary_list"), "7777777K")) == ["Importé"]
    rows = {c.slug: n for c, n in officer_client.get(reverse("cohort_index")).context["rows"]}
    assert rows["cessations-du-mois"] == 1
    response = officer_client.get(reverse("beneficiary_detail", args=[person.pk]))
    timeline = response.context["timeline"]
    assert any(entry.kind == "event" and entry.positive for entry in timeline)
    assert "données France Travail au 31/01/2025" in response.content.decode()


def test_people_anonymised_by_the_retention_are_flagged(officer_client):
    from rights.retention import anonymise

    kept = BeneficiaryFactory(birth_name="Gardé", usage_name="")
    gone = BeneficiaryFactory(birth_name="Parti", usage_name="")
    anonymise(gone)
    listing = officer_client.get(reverse("beneficiary_list"))
    rows = {row.pk: row for row in listing.context["page"]}
    assert rows[gone.pk].anonymised and not rows[kept.pk].anonymised
    assert listing.content.decode().count(">anonymisé</span>") == 1
    assert (
        'id="anonymised"'
        in officer_client.get(reverse("beneficiary_detail", args=[gone.pk])).content.decode()
    )
    assert (
        'id="anonymised"'
        not in officer_client.get(reverse("beneficiary_detail", args=[kept.pk])).content.decode()
    )


def test_filter_forms_do_not_share_their_territories(orientation_officer, social_worker):
    """The forms' select boxes share their choices lists (SharedChoiceField): one user's must never
    reach another's form, nor the class."""
    from pages.filters import ANY, BeneficiaryFilterForm
    from tests.factories import TerritoryFactory

    TerritoryFactory(name="Nord")
    south = TerritoryFactory(name="Sud")
    social_worker.territories.set([south])
    officer_form = BeneficiaryFilterForm(user=orientation_officer)
    worker_form = BeneficiaryFilterForm(user=social_worker)
    assert {"Nord", "Sud"} <= {label for _value, label in officer_form.fields["territoire"].choices}
    assert worker_form.fields["territoire"].choices == ANY + [(str(south.pk), "Sud")]
    assert BeneficiaryFilterForm.base_fields["territoire"].choices == ANY
    assert "Nord" not in worker_form.as_p()


# --- Page titles ------------------------------------------------------------


def test_pages_about_a_person_have_a_neutral_title(officer_client):
    """The <title> stays in the browser's history on a shared computer: a file number, no name."""
    person = BeneficiaryFactory(birth_name="Vasseur", usage_name="Lemoine", first_name="Clothilde")
    pages = [
        officer_client.get(reverse("beneficiary_detail", args=[person.pk])),
        officer_client.get(reverse("orientation_record", args=[person.pk])),
        officer_client.get(reverse("orientation_history", args=[person.pk])),
        officer_client.post(reverse("reveal_nir", args=[person.pk])),
    ]
    titles = []
    for response in pages:
        assert response.status_code == 200
        titles.append(re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1))
    for title in titles:
        for identifying in ("Vasseur", "Lemoine", "Clothilde", "VASSEUR", person.nir[:5]):
            assert identifying not in title, title
    assert f"Dossier n° {person.pk}" in titles[0]
