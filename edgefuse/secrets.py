"""Redaction of secrets in URIs, configs and messages before they are logged, stored or served.

One rule for every place a URI or a config leaves the process (stderr, stats JSON, the viewer's
``/stats``, model cards, ``resolved_config.yaml``, checkpoints): the password of a
``user:password@host`` userinfo and the values of secret-looking query parameters
(``token``, ``password``, ``key``, ...) are replaced by ``***``. The user name and host stay,
so a message still says which camera or server it is about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

# query keys whose values are secrets (matched case-insensitively, as whole keys)
SECRET_KEYS = ("token", "access_token", "api_key", "apikey", "key", "password", "passwd", "pwd", "secret",
               "auth", "authorization", "sig", "signature")

# scheme://user:password@host  ->  scheme://user:***@host ; scheme://token@host -> scheme://***@host
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^/@\s:?#]*)(?::(?P<pw>[^/@\s?#]*))?@")
_QUERY = re.compile(r"(?P<pre>[?&;](?:%s)=)(?P<val>[^&#\s;]*)" % "|".join(SECRET_KEYS), re.IGNORECASE)


def _userinfo(m: re.Match[str]) -> str:
    if m.group("pw") is not None:
        return f"{m.group('scheme')}{m.group('user')}:{MASK}@"
    # a lone userinfo without a colon is often a token (https://TOKEN@host): mask it too
    return f"{m.group('scheme')}{MASK}@" if m.group("user") else m.group(0)


def redact(text: str) -> str:
    """``text`` with every URI password, userinfo token and secret query value replaced by ``***``."""
    if not isinstance(text, str) or not text:
        return text
    return _QUERY.sub(lambda m: m.group("pre") + MASK, _USERINFO.sub(_userinfo, text))


def redact_obj(value: Any) -> Any:
    """A copy of a JSON/YAML-like structure with :func:`redact` applied to every string in it.

    Mapping values under a secret key (``password: hunter2``, ``api_key: ...``) are masked whole.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and k.lower() in SECRET_KEYS and isinstance(v, str) and v:
                out[k] = MASK
            else:
                out[k] = redact_obj(v)
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(redact_obj(v) for v in value)
    return value


def has_secret(text: str) -> bool:
    """Whether :func:`redact` would change ``text``."""
    return redact(text) != text
