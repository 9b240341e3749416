"""How messages name the command's inputs: a pipeline author sets force_new_version, a
command-line user types --force-new-version. The command line switches to flags once, at its
start; a message that names an input as a value it reports (a reason, a record) asks here."""

_as_flags = False


def flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def use_flags(on: bool) -> None:
    global _as_flags
    _as_flags = on


def named(name: str) -> str:
    """`name` (a KFP parameter or artifact name) as the interface in use spells it."""
    return flag(name) if _as_flags else name
