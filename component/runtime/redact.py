"""Text from a library (an exception, an answer) made fit for a log line or an error message: one
line, and nothing in it that works as a password."""

import re

# A URL's query string (a resumable upload's session id, a presigned URL's signature), an OAuth
# access token, and the user:password part some users put into a URL.
_SECRETS = (
    (re.compile(r"\?[^\s'\"()]+"), "?..."),
    (re.compile(r"(ya29\.[\w.-]+|Bearer\s+\S+)"), "..."),
    (re.compile(r"(?<=://)[^/\s@'\"]*@"), "...@"),
)


def redacted(value: object, limit: int = 400) -> str:
    """`value` as one line of at most `limit` characters, without URL query strings, access tokens
    or credentials written into a URL."""
    text = " ".join(str(value).split())
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text[:limit]
