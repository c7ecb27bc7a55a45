"""The exceptions of :mod:`chainrule.tabular`."""


class DataError(ValueError):
    """A problem in the user's data (file, columns, values) that the user must fix.

    The message names the path, column(s) or rows, what was expected and what was found.
    The command line turns it into exit status 1 with the message.
    """


class DataWarning(UserWarning):
    """Something in the data was changed on the user's behalf (e.g. a constant column dropped)."""
