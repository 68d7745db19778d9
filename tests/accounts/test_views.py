import pytest
from django.urls import reverse

from tests.factories import TEST_PASSWORD


@pytest.mark.django_db
def test_login_page_in_french(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert '<html lang="fr">' in response.content.decode()
    assert "Se connecter" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role, shown, hidden",
    [
        ("social_worker", "Consulter le suivi", "Enregistrer des décisions"),
        ("orientation_officer", "Enregistrer des décisions", "Lancer et suivre les échanges"),
        ("admin", "Lancer et suivre les échanges", None),
    ],
)
def test_login_reaches_home_with_role_capabilities(client, users, role, shown, hidden):
    response = client.post(
        reverse("login"), {"username": users[role].username, "password": TEST_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("home")
    page = response.content.decode()
    assert shown in page
    if hidden:
        assert hidden not in page


@pytest.mark.django_db
def test_wrong_password_is_refused(client, social_worker):
    response = client.post(reverse("login"), {"username": "ts", "password": "pas-le-bon-mot-de-passe"})
    assert response.status_code == 200
    assert "Identifiant ou mot de passe incorrect" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_logout_needs_post(client, social_worker):
    client.login(username="ts", password=TEST_PASSWORD)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_healthz_checks_database(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["database"] == {"status": "ok"}
