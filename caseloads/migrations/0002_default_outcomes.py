from django.db import migrations

# The short list an instance starts with; administrators change it in the admin site.
DEFAULT_OUTCOMES = [
    "Contacté",
    "Rendez-vous fixé",
    "Message laissé, sans réponse",
    "Orientation à revoir",
    "Déjà pris en charge",
    "Sans suite",
]


def create(apps, schema_editor):
    Outcome = apps.get_model("caseloads", "Outcome")
    for position, label in enumerate(DEFAULT_OUTCOMES, start=1):
        Outcome.objects.get_or_create(label=label, defaults={"position": position})


class Migration(migrations.Migration):
    dependencies = [("caseloads", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
