"""Learner and class codes: identity without accounts.

A learner continues on another device by typing their learner code; a class is joined with a short class code.
Codes come from :mod:`secrets` over an alphabet without look-alike characters (no 0/O, 1/I/L), so they can be
read aloud and typed; anything else is refused before it reaches a query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from container_edu.errors import ContainerEduError
from container_edu.text import N_

__all__ = ["ALPHABET", "LEARNER_CODE_LENGTH", "CLASS_CODE_LENGTH", "CodeError", "new_learner_code",
           "new_class_code", "new_teacher_key", "normalise_code", "hash_key", "key_matches"]

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#: 31^10 ≈ 8e14 learner codes: guessing one of a class's 30 takes about 3e13 tries.
LEARNER_CODE_LENGTH = 10
#: Short enough to write on a board; a class code alone reveals nothing about a learner.
CLASS_CODE_LENGTH = 6
TEACHER_KEY_BYTES = 18


class CodeError(ContainerEduError, ValueError):
    """A learner or class code that is not one this app could have made."""


def _new(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_learner_code() -> str:
    return _new(LEARNER_CODE_LENGTH)


def new_class_code() -> str:
    return _new(CLASS_CODE_LENGTH)


def new_teacher_key() -> str:
    """The lecturer's secret for the class view; only its hash is stored."""
    return secrets.token_urlsafe(TEACHER_KEY_BYTES)


def normalise_code(text: object, length: int) -> str:
    """``text`` as a code of ``length`` characters (case and spaces and dashes forgiven), or :class:`CodeError`."""
    message = N_("That is not a valid code: a code has {length} letters and digits.")
    if not isinstance(text, str) or len(text) > 4 * length:
        raise CodeError(message, length=length)
    code = text.strip().upper().replace(" ", "").replace("-", "")
    if len(code) != length or any(ch not in ALPHABET for ch in code):
        raise CodeError(message, length=length)
    return code


def hash_key(key: str) -> str:
    """A salted hash of a teacher key, as stored (``salt$sha256``)."""
    salt = secrets.token_hex(8)
    return f"{salt}${hashlib.sha256((salt + key).encode()).hexdigest()}"


def key_matches(key: str, stored: str) -> bool:
    salt, _sep, digest = stored.partition("$")
    return hmac.compare_digest(hashlib.sha256((salt + key).encode()).hexdigest(), digest)
