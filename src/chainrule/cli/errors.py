"""The exception a ``chainrule`` command raises for a problem the user must fix."""


class CommandError(Exception):
    """A problem with the user's data, model or options: the command exits with code 1 and
    prints this message (one paragraph, no traceback unless ``--debug``)."""
