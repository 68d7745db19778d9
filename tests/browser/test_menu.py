import re

import pytest

from tests.browser.conftest import assert_accessible
from tests.factories import BeneficiaryFactory

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


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast(one, two) -> float:
    light, dark = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


def test_keyboard_focus_shows_on_the_bar_and_in_the_page(page, login, social_worker):
    login(social_worker)
    bar_link = page.get_by_role("link", name="Bénéficiaires", exact=True)
    for _ in range(12):
        page.keyboard.press("Tab")
        if bar_link.evaluate("element => element === document.activeElement"):
            break
    style = bar_link.evaluate(
        "e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"
    )
    bar = _rgb(page.locator("nav.navbar").evaluate("e => getComputedStyle(e).backgroundColor"))
    assert style[:2] == ["solid", "3px"]
    assert _contrast(_rgb(style[2]), bar) >= 3  # WCAG 1.4.11: the focus ring against the bar


def test_links_in_striped_rows_keep_their_contrast(page, login, social_worker):
    for index in range(3):
        BeneficiaryFactory(birth_name=f"Rayé{index}", commune_code="82121")
    login(social_worker)
    page.get_by_role("link", name="Bénéficiaires", exact=True).click()
    link = page.locator(".table-striped tbody tr:nth-of-type(odd) a").first
    color = _rgb(link.evaluate("e => getComputedStyle(e).color"))
    # Bootstrap paints the stripe as an inset shadow of black at this opacity, over white.
    shadow = link.evaluate("e => getComputedStyle(e.closest('td')).boxShadow")
    alpha = float(re.search(r"rgba\(0, 0, 0, ([\d.]+)\)", shadow).group(1))
    stripe = tuple(255 * (1 - alpha) for _ in range(3))
    assert _contrast(color, stripe) >= 4.5
