"""The AWS CLI shorthand syntax.

Grammar (as the AWS CLI documents it)::

    parameter   = keyval *("," keyval)
    keyval      = key ["@"] "=" [values]
    values      = explicit-list / hash-literal / csv-value
    csv-value   = first-value *("," second-value)   ; a bare list: a=b,c,d
    explicit-list = "[" [item *("," item)] "]"
    hash-literal  = "{" [key ["@"] "=" item *("," key "=" item)] "}"
    item        = explicit-list / hash-literal / first-value
    first-value = single-quoted / double-quoted / word

``key@=file://path`` loads the value from a file.  ``\\,`` escapes a comma in a
bare word.  The parse is purely syntactic; :func:`coerce` then applies the model
(scalars to numbers/booleans, a single value to a one-element list).
"""
from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any

KEY_CHARS = frozenset(string.ascii_letters + string.digits + "-_.#/:")
_WS = frozenset(string.whitespace)

# A bare word may not start with whitespace/control characters, a quote, ',', '=',
# '[' or '{'; a first value then runs until a quote, ',', ']' or '}'; a second value
# (in "a=b,c" lists) until a quote, ',' or '='.  ``\\,`` escapes a comma.  (Written as
# negated classes: they compile far faster than the equivalent positive ranges.)
_FIRST_WORD = re.compile(
    r"""(\\,|[^\x00-\x20"',=\[{\U00010000-\U0010FFFF])(\\,|[^\x00-\x08\x0e-\x1b"',\]}\U00010000-\U0010FFFF])*""")
_SECOND_WORD = re.compile(
    r"""(\\,|[^\x00-\x20"',=\[{\U00010000-\U0010FFFF])(\\,|[^\x00-\x08\x0e-\x1b"',=\U00010000-\U0010FFFF])*""")
_SQUOTED = re.compile(r"'(?:\\'|[^'])*'")
_DQUOTED = re.compile(r'"(?:\\"|[^"])*"')


class ShorthandError(Exception):
    pass


def _pointer(text: str, index: int) -> str:
    head, tail, col = text, "", index
    before = text[:index]
    if "\n" in before:
        col = index - before.rindex("\n") - 1
    if "\n" in text[index:]:
        cut = index + text[index:].index("\n")
        head, tail = text[:cut], text[cut:]
    return f"{head}\n{' ' * col}^{tail}"


class ShorthandSyntaxError(ShorthandError):
    def __init__(self, text: str, expected: str, actual: str, index: int):
        self.text, self.expected, self.actual, self.index = text, expected, actual, index
        super().__init__(
            f"Expected: '{expected}', received: '{actual}' for input:\n{_pointer(text, index)}"
        )


class DuplicateKeyError(ShorthandError):
    def __init__(self, key: str, text: str, index: int):
        super().__init__(
            f'Second instance of key "{key}" encountered for input:\n{_pointer(text, index)}'
            '\nThis is often because there is a preceding "," instead of a space.'
        )


class Parser:
    def __init__(self, paramfile_loader: Callable[[str], Any] | None = None):
        self._load = paramfile_loader

    def parse(self, text: str) -> dict:
        self.s = text
        self.i = 0
        self._from_file = False
        out: dict = {}
        key, val = self._keyval()
        out[key] = val
        last = self.i
        while self.i < len(self.s):
            self._expect(",", ws=True)
            key, val = self._keyval()
            if key in out:
                raise DuplicateKeyError(key, self.s, last + 1)
            out[key] = val
            last = self.i
        return out

    # -- helpers
    def _peek(self):
        return self.s[self.i] if self.i < len(self.s) else None

    def _eof(self) -> bool:
        return self.i >= len(self.s)

    def _skip_ws(self):
        while not self._eof() and self.s[self.i] in _WS:
            self.i += 1

    def _expect(self, ch: str, ws: bool = False):
        if ws:
            self._skip_ws()
        if self._eof():
            raise ShorthandSyntaxError(self.s, ch, "EOF", self.i)
        if self.s[self.i] != ch:
            raise ShorthandSyntaxError(self.s, ch, self.s[self.i], self.i)
        self.i += 1
        if ws:
            self._skip_ws()

    def _match(self, regex, label: str | None = None):
        m = regex.match(self.s, self.i)
        if m is None:
            if label is None:
                return None
            raise ShorthandSyntaxError(self.s, f"<{label}>", "<none>", self.i)
        self.i = m.end()
        return m.group(0)

    def _maybe_file(self, value: str):
        if self._from_file and self._load is not None:
            loaded = self._load(value)
            if loaded is not None:
                return loaded
        return value

    # -- grammar
    def _key(self) -> str:
        start = self.i
        while not self._eof() and self.s[self.i] in KEY_CHARS:
            self.i += 1
        return self.s[start:self.i]

    def _assign(self):
        self._from_file = False
        save = self.i
        self._skip_ws()
        if self._peek() == "@":
            self.i += 1
            self._skip_ws()
            self._from_file = True
        else:
            self.i = save
        self._expect("=", ws=True)

    def _keyval(self):
        key = self._key()
        self._assign()
        return key, self._values()

    def _values(self):
        c = self._peek()
        if c is None:
            return ""
        if c == "[":
            return self._list()
        if c == "{":
            return self._hash()
        return self._csv()

    def _csv(self):
        first = self._first_value()
        self._skip_ws()
        if self._eof() or self.s[self.i] != ",":
            return first
        self._expect(",", ws=True)
        items = [first]
        while True:
            try:
                cur = self._second_value()
                self._skip_ws()
                if self._eof():
                    items.append(cur)
                    break
                self._expect(",", ws=True)
                items.append(cur)
            except ShorthandSyntaxError:
                if self._eof():
                    raise
                # The next item was really "key=value": step back to its comma.
                while self.i >= 0 and self.s[self.i] != ",":
                    self.i -= 1
                break
        return first if len(items) == 1 else items

    def _word(self, regex, required_label: str | None):
        raw = self._match(regex, required_label)
        if raw is None:
            return ""
        return self._maybe_file(raw.replace("\\,", ",").rstrip())

    def _quoted(self, regex, quote: str, label: str):
        raw = self._match(regex, label)[1:-1]
        raw = raw.replace("\\" + quote, quote).replace("\\\\", "\\")
        return self._maybe_file(raw)

    def _first_value(self):
        c = self._peek()
        if c == "'":
            return self._quoted(_SQUOTED, "'", "singled quoted")
        if c == '"':
            return self._quoted(_DQUOTED, '"', "double quoted")
        return self._word(_FIRST_WORD, None)

    def _second_value(self):
        c = self._peek()
        if c == "'":
            return self._quoted(_SQUOTED, "'", "singled quoted")
        if c == '"':
            return self._quoted(_DQUOTED, '"', "double quoted")
        return self._word(_SECOND_WORD, "second")

    def _item(self):
        c = self._peek()
        if c == "[":
            return self._list()
        if c == "{":
            return self._hash()
        return self._first_value()

    def _list(self):
        self._expect("[", ws=True)
        items = []
        while self._peek() != "]":
            items.append(self._item())
            self._skip_ws()
            if self._peek() != "]":
                self._expect(",")
                self._skip_ws()
        self._expect("]")
        return items

    def _hash(self):
        self._expect("{", ws=True)
        out = {}
        while self._peek() != "}":
            key = self._key()
            self._assign()
            val = self._item()
            self._skip_ws()
            if self._peek() != "}":
                self._expect(",")
                self._skip_ws()
            out[key] = val
        self._expect("}")
        return out


def supports_shorthand(shape) -> bool:
    """Shorthand applies to structures, maps and lists of non-scalars (no documents)."""
    if _has_document(shape, set()):
        return False
    if shape.type_name in ("structure", "map"):
        return True
    if shape.type_name == "list":
        return shape.member.type_name in ("structure", "list", "map")
    return False


def _has_document(shape, seen) -> bool:
    if shape.is_document:
        return True
    if shape.name in seen:
        return False
    seen = seen | {shape.name}
    if shape.type_name == "list":
        return _has_document(shape.member, seen)
    if shape.type_name == "map":
        return _has_document(shape.value, seen)
    return False


def coerce(value: Any, shape) -> Any:
    """Apply the model to a syntactic parse: numbers, booleans, scalar-to-list."""
    t = shape.type_name
    if value is None:
        return None
    if t == "structure":
        if shape.is_document:
            raise ShorthandError(
                "Shorthand syntax does not support document types. Use JSON input for "
                "top-level argument to specify nested parameter"
            )
        if not isinstance(value, dict):
            return value
        members = shape.members
        out = {}
        for k, v in value.items():
            m = members.get(k)
            if m is not None and m.is_document:
                raise ShorthandError(
                    "Shorthand syntax does not support document types. Use JSON input for "
                    f"top-level argument to specify nested parameter: {k}"
                )
            out[k] = coerce(v, m) if m is not None else v
        return out
    if t == "list":
        if not isinstance(value, list):
            value = [value]
        m = shape.member
        return [coerce(v, m) for v in value]
    if t == "map":
        if not isinstance(value, dict):
            return value
        vs = shape.value
        return {k: coerce(v, vs) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    try:
        if t in ("integer", "long"):
            return int(value)
        if t in ("float", "double"):
            return float(value)
    except ValueError:
        return value
    if t == "boolean":
        if value.lower() == "true":
            return True
        if value.lower() == "false":
            return False
    return value
