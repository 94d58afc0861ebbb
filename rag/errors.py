"""User-facing failures: one line that says what is wrong and what to do, never a traceback."""


class NewsdeskError(Exception):
    """An error whose message is fit to show a user as it is."""

    code = "error"


class BadQuestion(NewsdeskError):
    code = "bad_question"


class EmptyStore(NewsdeskError):
    code = "empty_store"


class ModelError(NewsdeskError):
    code = "model_error"
