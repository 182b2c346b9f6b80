"""Errors a user can act on. The CLI prints their message (no traceback) and exits non-zero."""


class IsobalanceError(Exception):
    """Base class: the message is one plain sentence telling the user what is wrong and what to do."""

    exit_code = 2


class SourceError(IsobalanceError):
    """A video, image, folder or webcam cannot be opened or decoded."""


class NoPersonError(IsobalanceError):
    """The model found nobody in the whole input."""

    exit_code = 3


class PartialInputError(IsobalanceError):
    """The input broke part-way; everything computed before the break has been written."""

    exit_code = 4
