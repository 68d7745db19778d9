"""Settings refuse bad values, naming the variable."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value, expected", [("true", True), ("0", False), ("Yes", True), ("off", False)])
def test_env_bool_accepts(monkeypatch, value, expected):
    monkeypatch.setenv("SOME_FLAG", value)
    assert env.env_bool("SOME_FLAG", not expected) is expected


def test_env_bool_refuses_garbage(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env.env_bool("SOME_FLAG", False)


def test_env_int_bounds(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER=0 is below"):
        env.env_int("SOME_NUMBER", 5, minimum=1)
    monkeypatch.setenv("SOME_NUMBER", "douze")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env.env_int("SOME_NUMBER", 5)


def test_env_float_bounds(monkeypatch):
    assert env.env_float("SOME_NUMBER", 5.0) == 5.0
    monkeypatch.setenv("SOME_NUMBER", "2.5")
    assert env.env_float("SOME_NUMBER", 5.0, minimum=0.0, maximum=3.0) == 2.5
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER=2.5 is above the maximum 2.0"):
        env.env_float("SOME_NUMBER", 5.0, maximum=2.0)
    monkeypatch.setenv("SOME_NUMBER", "2,5")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER='2,5' is not a number"):
        env.env_float("SOME_NUMBER", 5.0)


@pytest.mark.parametrize(
    "value, expected", [("82", "82"), ("082", "82"), ("2A", "2A"), ("02b", "2B"), ("971", "971")]
)
def test_departement_normalised(monkeypatch, value, expected):
    monkeypatch.setenv("DEPARTEMENT", value)
    assert env.env_departement("DEPARTEMENT", "82") == expected


@pytest.mark.parametrize("value", ["00", "96x", "977", "20", "1"])
def test_departement_refused(monkeypatch, value):
    monkeypatch.setenv("DEPARTEMENT", value)
    with pytest.raises(ImproperlyConfigured, match="DEPARTEMENT"):
        env.env_departement("DEPARTEMENT", "82")


def check_with(tmp_path, **variables) -> subprocess.CompletedProcess:
    """Start Django in a child process with only these variables (no .env)."""
    environment = {
        "PATH": os.environ["PATH"],
        "DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **variables,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True
    )


@pytest.mark.parametrize("mode", [{}, {"APP_MODE": "production"}])
def test_importing_the_settings_makes_no_file_and_no_folder(tmp_path, mode):
    """Loading the settings (and the applications) writes nothing: manage.py, WSGI and Celery
    make the data folder, the key and the SQLite file (config/embedded.py)."""
    data = tmp_path / "data"
    empty = tmp_path / "empty"
    empty.mkdir()
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATA_DIR)"
    for folder in (data, empty):
        environment = {
            "PATH": os.environ["PATH"],
            "DATA_DIR": str(folder),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **mode,
        }
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(folder)
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["empty"]


def test_embedded_default_starts_without_any_variable(tmp_path):
    result = check_with(tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").exists()


PRODUCTION = {
    "APP_MODE": "production",
    "SECRET_KEY": "k" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "rsa.example.fr",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "TRUSTED_PROXIES": "172.16.0.0/12, 127.0.0.1",
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "django-insecure-short"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "changeme" * 7}, "SECRET_KEY is too weak"),
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must list"),
        ({"ALLOWED_HOSTS": "*"}, "must not contain"),
        ({"DATABASE_URL": ""}, "DATABASE_URL must be set"),
        ({"DATABASE_URL": "sqlite:////tmp/x.db"}, "must point to PostgreSQL"),
        ({"REDIS_URL": ""}, "REDIS_URL must be set"),
        ({"DEBUG": "peut-être"}, "DEBUG='peut-être' is not a boolean"),
        ({"CACHE_URL": "memcached://127.0.0.1"}, "CACHE_URL='memcached://127.0.0.1' must be a Redis URL"),
        ({"TRUSTED_PROXIES": ""}, "TRUSTED_PROXIES must list the reverse proxies' addresses"),
        ({"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES: '10.0.0.0/33' is not an IP address"),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path, change, message):
    result = check_with(tmp_path, **{**PRODUCTION, **change})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_without_a_proxy_needs_no_proxy_list(tmp_path):
    result = check_with(tmp_path, **{**PRODUCTION, "TRUSTED_PROXIES": "", "TRUSTED_PROXY_COUNT": "0"})
    assert result.returncode == 0, result.stderr


def test_production_check_deploy_is_clean(tmp_path):
    environment = {
        "PATH": os.environ["PATH"],
        "DATA_DIR": str(tmp_path),
        **PRODUCTION,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def settings_with(tmp_path, **variables) -> list[str]:
    """The cache backend, its location and the session engine of Django started with these variables."""
    environment = {
        "PATH": os.environ["PATH"],
        "DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **variables,
    }
    code = (
        "import django; django.setup(); from django.conf import settings; c = settings.CACHES['default'];"
        "print(c['BACKEND'], c.get('LOCATION', '-'), settings.SESSION_ENGINE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_production_shares_its_cache_and_sessions_through_redis(tmp_path):
    assert settings_with(tmp_path, **PRODUCTION) == [
        "config.cache.RedisCache",
        "redis://127.0.0.1:6379/0",
        "accounts.session_store",
    ]
    assert settings_with(tmp_path, **PRODUCTION, CACHE_URL="redis://127.0.0.1:6379/1")[1] == (
        "redis://127.0.0.1:6379/1"
    )
    # Embedded mode: a cache per process, and sessions in the database only.
    assert settings_with(tmp_path) == [
        "django.core.cache.backends.locmem.LocMemCache",
        "-",
        "django.contrib.sessions.backends.db",
    ]


def test_a_hexadecimal_secret_key_is_accepted(tmp_path):
    result = check_with(tmp_path, **{**PRODUCTION, "SECRET_KEY": "0123456789abcdef" * 4})
    assert result.returncode == 0, result.stderr


def test_the_compose_stack_keeps_its_files_in_the_shared_volume():
    """web serves the files that worker writes: both must use the `files` volume, whatever .env
    says (values under `environment:` win over env_file)."""
    compose = (ROOT / "docker-compose.yml").read_text()
    app = compose.split("\nservices:")[0]  # the x-app block every Django service shares
    assert "env_file: .env" in app
    environment = app.split("environment:")[1].split("volumes:")[0]
    assert "DATA_DIR: /var/lib/liaison-rsa\n" in environment
    assert "EXCHANGE_FILES_DIR: /var/lib/liaison-rsa/files\n" in environment
    assert "- files:/var/lib/liaison-rsa\n" in app.split("volumes:")[1]


def test_the_image_leaves_the_workers_to_gunicorn_conf():
    dockerfile = (ROOT / "Dockerfile").read_text()
    command = [line for line in dockerfile.splitlines() if line.startswith("CMD")]
    assert len(command) == 1 and "gunicorn" in command[0]
    assert "--workers" not in command[0]  # it would override WEB_CONCURRENCY (gunicorn.conf.py)


def test_env_example_lists_every_variable_the_settings_read():
    """README: « Toutes sont décrites, avec leur valeur par défaut, dans .env.example »."""
    import re

    read = set()
    for path in [*(ROOT / "config").glob("*.py"), ROOT / "gunicorn.conf.py"]:
        text = path.read_text()
        read |= set(re.findall(r'\benv_\w+\(\s*"([A-Z][A-Z0-9_]*)"', text))
        read |= set(re.findall(r'os\.environ\.get\("([A-Z][A-Z0-9_]*)"', text))
    read.discard("DJANGO_SETTINGS_MODULE")
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - listed == set()  # read but not documented
    # Documented but read by nobody (docker-compose.yml's own variable aside).
    assert listed - read - {"POSTGRES_PASSWORD"} == set()


def test_smtp_relay_settings_are_read(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS, s.EMAIL_TIMEOUT)"
    )
    environment = {
        "PATH": os.environ["PATH"],
        "DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EMAIL_HOST": "smtp.departement.fr",
        "EMAIL_PORT": "587",
        "EMAIL_HOST_USER": "liaison",
        "EMAIL_USE_TLS": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["smtp.departement.fr", "587", "liaison", "True", "10"]
    both = check_with(tmp_path, EMAIL_USE_TLS="true", EMAIL_USE_SSL="true")
    assert both.returncode != 0 and "EMAIL_USE_TLS and EMAIL_USE_SSL" in both.stderr


def run_with_umask(tmp_path, args, **variables) -> subprocess.CompletedProcess:
    """manage.py under the usual umask (022), which would leave new files readable by all."""
    environment = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", **variables}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(0o022),
    )


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_embedded_mode_keeps_its_data_folder_private(tmp_path):
    data = tmp_path / "data"
    result = run_with_umask(tmp_path, ["migrate", "--no-input"], DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert mode(data) == 0o700
    assert mode(data / "secret_key") == 0o600
    database = data / "liaison-rsa.sqlite3"
    assert database.stat().st_size > 0 and mode(database) == 0o600


def test_embedded_mode_tightens_what_an_earlier_version_left_open(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "secret_key").write_text("x" * 60)
    (data / "liaison-rsa.sqlite3").write_bytes(b"")
    for name in ("secret_key", "liaison-rsa.sqlite3"):
        (data / name).chmod(0o644)
    result = run_with_umask(tmp_path, ["check"], DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert (mode(data), mode(data / "secret_key"), mode(data / "liaison-rsa.sqlite3")) == (
        0o700,
        0o600,
        0o600,
    )
    assert (data / "secret_key").read_text() == "x" * 60


def test_check_deploy_warns_of_a_data_folder_open_to_others(tmp_path):
    data = tmp_path / "volume"
    data.mkdir()
    data.chmod(0o755)  # production leaves the volume's mode to the operator
    result = run_with_umask(
        tmp_path, ["check", "--deploy", "--fail-level", "WARNING"], **{**PRODUCTION, "DATA_DIR": str(data)}
    )
    assert result.returncode != 0
    assert "liaison.W001" in result.stderr + result.stdout and "chmod 700" in result.stderr + result.stdout
    assert mode(data) == 0o755
