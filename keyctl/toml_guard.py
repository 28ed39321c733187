"""PURE: what the TOML reader must not be given. tomllib's memory grows with the square
of the parts of one dotted key (``x.a.a.a... = 1``, ``[keys.bob.a.a...]``): a 30 KB
file of one such key took over a gigabyte. No key keyctl reads has more than a few
parts, so a key of more than MAX_KEY_PARTS is refused before the text is parsed."""

MAX_KEY_PARTS = 100  # a manifest's [keys."a.b.c"] counts the dots of the name: names are at most 64 characters


def too_many_parts(text: str) -> str | None:
    """The problem with the first key (or table header) of more than MAX_KEY_PARTS
    dotted parts, naming its line; None when there is none."""
    if text.count(".") < MAX_KEY_PARTS:
        return None
    for number, line in enumerate(text.splitlines(), 1):
        if line.count(".") < MAX_KEY_PARTS:
            continue
        stripped = line.lstrip()
        head = stripped[1:].split("]", 1)[0] if stripped.startswith("[") else stripped.split("=", 1)[0]
        if head.count(".") >= MAX_KEY_PARTS:
            return (f"line {number}: a key of more than {MAX_KEY_PARTS} dotted parts (a.b.c...), more than "
                    "anything keyctl reads has")
    return None
