"""Path convertors: `{id:id}` matches a database id, so `/menu/99999999999999999999` is a 404,
not an integer SQLite cannot hold."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class IdConvertor(Convertor[int]):
    regex = "[1-9][0-9]{0,17}"  # below 10**18, inside 64-bit range

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())
