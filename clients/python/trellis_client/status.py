"""Status codes and the error a failed call raises."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class StatusCode(enum.IntEnum):
    """The canonical status codes carried by Close.code and GoAway.code."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @classmethod
    def from_wire(cls, code: int) -> "StatusCode":
        """Maps a code off the wire; codes this client does not know become UNKNOWN."""
        try:
            return cls(code)
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True)
class ErrorDetail:
    """One structured detail of a failed call (trellis.wire.v1.ErrorDetail)."""

    reason: str
    subject: str = ""
    description: str = ""
    metadata: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_proto(cls, detail) -> "ErrorDetail":
        return cls(
            reason=detail.reason,
            subject=detail.subject,
            description=detail.description,
            metadata=tuple((e.key, e.value) for e in detail.metadata),
        )


@dataclass(frozen=True)
class Status:
    """How a call ended: a code, a human message and structured details."""

    code: StatusCode
    message: str = ""
    details: tuple[ErrorDetail, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.code is StatusCode.OK

    @classmethod
    def from_close(cls, close) -> "Status":
        return cls(
            code=StatusCode.from_wire(close.code),
            message=close.message,
            details=tuple(ErrorDetail.from_proto(d) for d in close.details),
        )


class RpcError(Exception):
    """A call that did not succeed.

    ``code`` is a StatusCode, ``message`` the server's or the client's description and
    ``details`` the structured ErrorDetail list (empty for most errors).
    """

    def __init__(self, code: StatusCode, message: str = "", details=()):
        super().__init__(f"{code.name}: {message}" if message else code.name)
        self.code = code
        self.message = message
        self.details = tuple(details)

    @classmethod
    def from_status(cls, status: Status) -> "RpcError":
        return cls(status.code, status.message, status.details)

    @property
    def retryable(self) -> bool:
        """Whether the call may be retried as it stands (UNAVAILABLE only)."""
        return self.code is StatusCode.UNAVAILABLE
