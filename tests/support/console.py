"""A console user without a browser: cookies kept, forms posted with their CSRF token and a
same-origin Origin, as a browser would. The browser tests (tests/browser/) drive real Chromium."""

from __future__ import annotations

import html
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


@dataclass
class Page:
    status: int
    url: str
    text: str

    def csrf(self) -> str:
        found = CSRF.search(self.text)
        assert found, f"no CSRF token on {self.url}"
        return found.group(1)

    def hidden(self, name: str) -> str:
        for found_name, value in HIDDEN.findall(self.text):
            if found_name == name:
                return html.unescape(value)
        raise AssertionError(f"no hidden field {name} on {self.url}")

    def testid(self, testid: str) -> list[str]:
        """The text content of elements carrying data-testid (simple, non-nested elements)."""
        pattern = re.compile(rf'data-testid="{re.escape(testid)}"[^>]*>(.*?)<', re.S)
        return [html.unescape(text).strip() for text in pattern.findall(self.text)]


class ConsoleUser:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> Page:
        return self._open(urllib.request.Request(self.endpoint + path))

    def post(self, path: str, fields: dict[str, str], *, csrf: str | None = None, origin: str | None = "same") -> Page:
        data = dict(fields)
        if csrf is not None:
            data["csrf_token"] = csrf
        request = urllib.request.Request(self.endpoint + path, data=urllib.parse.urlencode(data).encode(),
                                         method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if origin is not None:
            request.add_header("Origin", self.endpoint if origin == "same" else origin)
        return self._open(request)

    def _open(self, request: urllib.request.Request) -> Page:
        try:
            with self.opener.open(request, timeout=30) as response:
                return Page(response.status, response.geturl(), response.read().decode())
        except urllib.error.HTTPError as error:
            return Page(error.code, error.geturl(), error.read().decode())


def sign_up_on_meta(user: ConsoleUser, business: str) -> str:
    """Goes through the simulator's embedded sign-up (no script: the token from the finish page)."""
    start = user.get("/meta/signup/")
    assert start.status == 200, start.text
    number = user.post("/meta/signup/business", {"businessId": "new", "businessName": business, "wabaName": business})
    assert number.status == 200, number.text
    verify = user.post("/meta/signup/number", {"state": number.hidden("state"), "displayPhoneNumber": ""})
    code = verify.testid("signup-sms-code")[0]
    added = user.post("/meta/signup/verify", {"state": verify.hidden("state"), "code": code})
    assert added.status == 200, added.text
    finished = user.post("/meta/signup/finish", {"state": added.hidden("state")})
    assert finished.status == 200, finished.text
    return finished.testid("signup-token")[0]
