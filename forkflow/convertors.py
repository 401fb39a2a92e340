"""Path convertors: `{id:id}` matches a database id, so `/menu/99999999999` is a 404, not an
integer the database cannot hold (a 500 on PostgreSQL, whose INTEGER keys are 32-bit)."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from .numbers import MAX_ID, at_most_regex


class IdConvertor(Convertor[int]):
    regex = at_most_regex(MAX_ID)

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


class TokenConvertor(Convertor[str]):
    """`{token:token}`: a tracking link's token is URL-safe base64; anything else (a NUL, which
    PostgreSQL cannot even compare) matches no route, so it is a 404 like an unknown token."""

    regex = "[A-Za-z0-9_-]{1,100}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class ScreenConvertor(Convertor[str]):
    """`{screen:screen}`: a kitchen screen's name (services/sight.py's SCREEN_ID: lowercase, so
    that "Grill-1" and "grill-1" are never two screens); any other name matches no route."""

    regex = "[a-z0-9_-]{1,40}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("id", IdConvertor())
register_url_convertor("screen", ScreenConvertor())
register_url_convertor("token", TokenConvertor())
