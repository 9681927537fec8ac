"""The one error type a user sees: what went wrong and what to do about it."""


class HarnessError(Exception):
    """An error the user can act on. The CLI prints `message` and `hint`, never a bare stack trace."""

    exit_code = 1

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  -> {self.hint}" if self.hint else self.message
