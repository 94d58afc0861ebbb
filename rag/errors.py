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


class UnknownDocuments(NewsdeskError):
    """A filter names documents or outlets the store does not hold."""

    code = "unknown_documents"


class Cancelled(NewsdeskError):
    """The caller gave up (a client disconnected) before the answer was complete."""

    code = "cancelled"


class BadDocument(NewsdeskError):
    """An upload that cannot become an article: wrong type, undecodable, empty or too big."""

    code = "bad_document"


class UnsupportedDocument(BadDocument):
    """An upload of a kind that is not read at all: another file type, or bytes that are not
    text (a binary file renamed .txt)."""

    code = "unsupported_media_type"


class StoreUnavailable(NewsdeskError):
    """The vector store (a Chroma server) cannot be reached or refused the request."""

    code = "store_unavailable"
