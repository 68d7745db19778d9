import pytest

from tests.browser.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_pages_are_reached_from_the_keyboard(page, login, admin_user):
    login(admin_user)
    menu = page.get_by_role("button", name="Administration")
    assert page.get_by_role("link", name="Journal d'audit").is_hidden()
    menu.focus()
    page.keyboard.press("Enter")
    audit = page.get_by_role("link", name="Journal d'audit")
    assert audit.is_visible()
    assert_accessible(page)
    audit.click()
    page.wait_for_url("**/audit/")


def test_social_worker_has_no_administration_menu(page, login, social_worker):
    login(social_worker)
    assert page.get_by_role("button", name="Administration").count() == 0
    assert page.get_by_role("link", name="Bénéficiaires", exact=True).is_visible()
