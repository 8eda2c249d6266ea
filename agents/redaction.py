"""Remove personal identifiers from text before it is stored or sent on.

Korean resident registration numbers (주민등록번호, ``900101-1234567``), phone numbers (``010-1234-5678``,
``02-123-4567``, ``+82 10 1234 5678``, ...) and e-mail addresses become ``[RRN]``, ``[PHONE]``, ``[EMAIL]``.
Short service numbers (119, 109, 1339) and dates are left alone.
"""

from __future__ import annotations

import re
from typing import Any

_SEP = r"[\s.-]?"
PATTERNS: dict[str, re.Pattern[str]] = {
    "EMAIL": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    # YYMMDD, then the gender/century digit 1-8 and six more digits (hyphen or space optional).
    "RRN": re.compile(r"(?<!\d)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?-?\s?[1-8]\d{6}(?!\d)"),
    "PHONE": re.compile(
        r"(?<![\w+])(?:"
        rf"\+\d{{1,3}}{_SEP}\(?0?\d{{1,4}}\)?{_SEP}\d{{3,4}}{_SEP}\d{{4}}"  # +82 10 1234 5678, +82-2-123-4567
        rf"|\(?0\d{{1,2}}\)?{_SEP}\d{{3,4}}{_SEP}\d{{4}}"  # 010-1234-5678, 02-123-4567, 031.123.4567
        rf"|1[5-9]\d{{2}}{_SEP}\d{{4}}"  # 1588-1234 (national business numbers)
        r")(?!\d)"
    ),
}


def redact(text: str) -> str:
    """``text`` with identifiers replaced by ``[EMAIL]``, ``[RRN]``, ``[PHONE]``."""
    for label, pattern in PATTERNS.items():
        text = pattern.sub(f"[{label}]", text)
    return text


def redact_data(value: Any) -> Any:
    """``redact`` applied to every string inside nested dicts, lists and tuples (keys included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_data(k): redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value
