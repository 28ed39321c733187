"""The catalog fields issue 15 adds (aliases, deprecated, hidden, auth, resource,
operation ids in an API's spelling, billing that may say nothing), validated like the
rest: every problem named with its entry."""

from __future__ import annotations

import pytest

from keyctl.catalog import parse_catalog
from keyctl.errors import CatalogError

BASE = '''name = "t"
[groups]
things = ["things.read", "things.write"]
[[scopes]]
id = "things.read"
[[scopes]]
id = "things.write"
requires = ["things.read"]
'''


def problems(extra: str) -> tuple[str, ...]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(BASE + extra)
    return caught.value.problems


@pytest.mark.parametrize("extra, expected", [
    ('[[operations]]\nid = "GetThing"\nrequires = ["things.read"]\nauth = "token"\n',
     "operation 'GetThing': 'auth' must be one of key, pat, session, none, not 'token'"),
    ('[[operations]]\nid = "GetThing"\nrequires = ["things.read"]\n[[operations]]\nid = "getthing"\nrequires = []\n',
     "operation 'getthing': duplicate id 'getthing' (ids are compared without case)"),
    ('[[operations]]\nid = "Things.Read"\n',
     "operation 'Things.Read': spell it as the scope 'things.read', whose operation it refines"),
    ('[[operations]]\nid = "Things"\nrequires = []\n', "operation 'Things': the id is a group name or 'all'"),
    ('[[operations]]\nid = "GetThing"\nrequires = ["things.read"]\nresource = "Big.Things"\n',
     "operation 'GetThing': 'resource' must be lowercase letters, digits, '_' or '-' (not 'all')"),
    ('[[operations]]\nid = "1Thing"\nrequires = []\n',
     "operation '1Thing': 'id' must be letters, digits, '_' or '-', dot-separated, starting with a letter"),
    ('[[scopes]]\nid = "other"\naliases = ["Things_Read"]\n[[scopes]]\nid = "more"\naliases = ["things_read"]\n',
     "scope 'more': alias 'things_read' is already an alias of 'other'"),
    ('[[scopes]]\nid = "other"\naliases = ["THINGS.READ"]\n',
     "scope 'other': alias 'THINGS.READ' is already the name of a scope, group or operation"),
    ('[[scopes]]\nid = "other"\naliases = ["two words"]\n',
     "scope 'other': alias 'two words' must be letters, digits, '_', '-', '.' or ':'"),
    ('[[scopes]]\nid = "other"\naliases = "Other"\n', "scope 'other': 'aliases' must be a list of names"),
    ('[[scopes]]\nid = "other"\ndeprecated = "yes"\n', "scope 'other': 'deprecated' must be true or false"),
    ('[[scopes]]\nid = "other"\nhidden = 1\n', "scope 'other': 'hidden' must be true or false"),
])
def test_each_new_field_is_validated(extra, expected):
    assert expected in problems(extra)


def test_the_new_fields_load():
    cat = parse_catalog(BASE + '''
[[scopes]]
id = "old"
aliases = ["Old_Thing"]
deprecated = true
hidden = true
billable = false
[[operations]]
id = "DeleteThing"
requires = ["things.write"]
auth = "pat"
resource = "things"
deprecated = true
[[operations]]
id = "Ping"
requires = []
auth = "none"
''')
    old = cat.scopes["old"]
    assert (old.deprecated, old.hidden, old.billable, old.aliases) == (True, True, False, ("Old_Thing",))
    assert cat.scopes["things.read"].billable is None
    assert cat.resolve("old_thing") == {"old"}
    delete = cat.operations["DeleteThing"]
    assert (delete.auth, delete.resource, delete.deprecated, delete.requires) == (
        "pat", "things", True, {"things.read", "things.write"})
    assert cat.resolve_operations(["deletething", "PING"]) == ("DeleteThing", "Ping")
    assert cat.resolve_operations(["things"]) == ("things.read", "things.write", "DeleteThing")
    assert cat.operations["Ping"].requires == frozenset()
