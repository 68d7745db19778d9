"""The « journal de suivi »: notes on a person, newest first."""

from __future__ import annotations

from django.utils import timezone

from caseloads.models import Note


def notes_of(beneficiary) -> list[Note]:
    return list(Note.objects.filter(beneficiary=beneficiary).select_related("author"))


def add_note(beneficiary, author, text: str) -> Note:
    return Note.objects.create(beneficiary=beneficiary, author=author, text=text, created_at=timezone.now())


def edit_note(note: Note, text: str) -> None:
    note.text = text
    note.save(update_fields=["text", "updated_at"])
