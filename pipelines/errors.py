"""Errors that carry enough context (file, line, problem) for a person to fix the input."""

from __future__ import annotations


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
