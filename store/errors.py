"""Store errors a user can act on (the CLI prints the message and exits with status 2)."""

from __future__ import annotations

from vision.errors import IsobalanceError


class StoreError(IsobalanceError):
    """The patient store cannot be opened, read or written (the message says why)."""


class NotFoundError(StoreError):
    """No patient or session matches the id given."""


class AmbiguousIdError(StoreError):
    """An id prefix matches more than one patient or session."""


class RecordError(StoreError):
    """An exported patient record cannot be read or does not match its files."""


class ConflictError(StoreError):
    """The thing to create already exists (e.g. importing a patient that is already in the store)."""
