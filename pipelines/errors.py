"""Errors that carry enough context (file, line, problem) for a person to fix the input."""

from __future__ import annotations


def first_line(exc: BaseException, limit: int = 500) -> str:
    """The first line of an error's message, at most ``limit`` characters ("" if it has none): what a
    person is shown of an error whose traceback goes to a log."""
    return (str(exc).splitlines() or [""])[0][:limit]


class DataValidationError(ValueError):
    """A raw or ingested file failed validation; nothing was written."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {problem}")


class StoreError(RuntimeError):
    """The local data store could not be written; the previous state is intact."""
