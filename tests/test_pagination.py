"""One pagination partial for every list: links keep the query string, a capped count shows no total."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory

from pages.listing import ListPage


def render(page, path: str = "/liste/", **context) -> str:
    request = RequestFactory().get(path)
    return render_to_string("includes/pagination.html", {"page": page, **context}, request=request)


def test_links_keep_the_filters_and_replace_the_page():
    """The review queue's « état » was lost from page 2 on (its links were ?page=N only)."""
    page = Paginator(range(120), 50).get_page(2)
    html = render(page, "/rapprochements/?etat=linked&page=2")
    assert 'href="?etat=linked&amp;page=3" rel="next"' in html
    assert 'href="?etat=linked&amp;page=1" rel="prev"' in html
    assert "Page 2 sur 3" in html
    assert 'href="?etat=linked&amp;page=3">Dernière' in html


def test_a_list_answering_a_form_posted_elsewhere_links_to_itself():
    page = Paginator(range(120), 50).get_page(1)
    html = render(page, "/orientations/enregistrer/?commune=82121", page_base="/orientations/")
    assert 'href="/orientations/?commune=82121&amp;page=2" rel="next"' in html
    assert "Précédente" not in html


def test_a_capped_count_shows_no_total_nor_last_page():
    page = ListPage(number=3, rows=[], count=10_000, capped=True, has_next=True)
    html = render(page, "/beneficiaires/?q=dupont&page=3")
    assert "Page 3</span>" in html and "sur" not in html and "Dernière" not in html
    assert 'href="?q=dupont&amp;page=4" rel="next"' in html


def test_a_single_page_shows_no_pagination():
    assert render(Paginator(range(3), 50).get_page(1)).strip() == ""
