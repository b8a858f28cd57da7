"""Child process for test_zoom_contract: the installed `zoom_meeting_sdk`, described as JSON.

Every public function's and method's nanobind signatures, every field's setter and
getter signature, each class's bases, and every enum's members. The contract test
checks the adapter against this, so the 200 MB SDK is never loaded into pytest
(where it would leave noise, or worse, at interpreter exit).
"""

import enum
import json
import os
import sys
from types import ModuleType
from typing import Any

import zoom_meeting_sdk


def signatures(function: Any) -> list[str]:
    return [text for text, *_ in getattr(function, "__nb_signature__", ())]


def describe_class(kind: type) -> dict[str, Any]:
    members: dict[str, list[str]] = {}
    for name in dir(kind):
        if name.startswith("__") and name != "__init__":
            continue
        attribute = next(c.__dict__[name] for c in kind.__mro__ if name in c.__dict__)
        if isinstance(attribute, property):
            members[f"get:{name}"] = signatures(attribute.fget)
            members[f"set:{name}"] = signatures(attribute.fset)
        else:
            members[name] = signatures(attribute)
    return {"bases": [base.__name__ for base in kind.__mro__], "members": members}


def describe(module: ModuleType) -> dict[str, Any]:
    surface: dict[str, Any] = {"functions": {}, "classes": {}, "enums": {}}
    for name in dir(module):
        value = getattr(module, name)
        if name.startswith("_"):
            continue
        if isinstance(value, type) and issubclass(value, enum.Enum):
            surface["enums"][name] = {member.name: member.value for member in value}
        elif isinstance(value, type):
            surface["classes"][name] = describe_class(value)
        elif hasattr(value, "__nb_signature__"):
            surface["functions"][name] = signatures(value)
    return surface


def main() -> None:
    sys.stdout.write(json.dumps(describe(zoom_meeting_sdk)))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
