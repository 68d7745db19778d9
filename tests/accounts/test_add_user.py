import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User


def run(*args, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command("add_user", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_creates_user_with_password_from_stdin(monkeypatch):
    out = run(
        "marie",
        "--role",
        "orientation_officer",
        "--password-stdin",
        stdin="un long secret partagé\n",
        monkeypatch=monkeypatch,
    )
    user = User.objects.get(username="marie")
    assert user.role == "orientation_officer"
    assert user.check_password("un long secret partagé")
    assert not user.is_staff
    assert "créé" in out


@pytest.mark.django_db
def test_updates_role_and_keeps_password(monkeypatch):
    run(
        "marie",
        "--role",
        "social_worker",
        "--password-stdin",
        stdin="un long secret partagé\n",
        monkeypatch=monkeypatch,
    )
    out = run("marie", "--role", "admin")
    user = User.objects.get(username="marie")
    assert user.role == "admin" and user.is_staff
    assert user.check_password("un long secret partagé")
    assert "mis à jour" in out


@pytest.mark.django_db
def test_refuses_weak_password(monkeypatch):
    with pytest.raises(CommandError, match="trop court|courant"):
        run("paul", "--role", "admin", "--password-stdin", stdin="azerty\n", monkeypatch=monkeypatch)
    assert not User.objects.filter(username="paul").exists()


@pytest.mark.django_db
def test_refuses_unknown_role():
    with pytest.raises(CommandError):
        call_command("add_user", "paul", "--role", "superhero")


def test_password_is_not_an_option():
    with pytest.raises(CommandError):
        call_command("add_user", "paul", "--role", "admin", "--password", "x")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
def test_a_password_typed_at_a_terminal_is_read_without_echo(monkeypatch):
    prompts = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return "un long secret tapé au clavier"

    monkeypatch.setattr("sys.stdin", _Terminal("ne doit pas être lu\n"))
    monkeypatch.setattr("getpass.getpass", getpass)
    call_command("add_user", "marie", "--role", "social_worker", "--password-stdin", stdout=io.StringIO())
    assert prompts == ["Mot de passe : "]
    assert User.objects.get(username="marie").check_password("un long secret tapé au clavier")
