"""A template as CloudFormation would deploy it for given parameter values: conditions
evaluated, `Fn::If` branches chosen, `AWS::NoValue` dropped, and the names every
remaining `Ref` / `Fn::GetAtt` / `Fn::Sub` refers to (so a test can prove that nothing
deployed refers to a resource the parameters left out)."""

from __future__ import annotations

import re
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([A-Za-z0-9:_.]+)\}")
_DROP = object()


def parameter_values(tpl: dict, **given: str) -> dict[str, str]:
    values = {name: str(p.get("Default", "")) for name, p in tpl.get("Parameters", {}).items()}
    unknown = set(given) - set(values)
    assert not unknown, f"no such parameter(s): {sorted(unknown)}"
    return {**values, **given}


def condition_holds(tpl: dict, name: str, params: dict[str, str]) -> bool:
    return _truth(tpl["Conditions"][name], tpl, params)


def holds(expr: Any, tpl: dict, params: dict[str, str]) -> bool:
    """A condition expression (also a `Rules` assertion) for these parameter values."""
    return _truth(expr, tpl, params)


def _truth(expr: Any, tpl: dict, params: dict[str, str]) -> bool:
    ((fn, arg),) = expr.items()
    if fn == "Fn::Equals":
        left, right = (_scalar(a, params) for a in arg)
        return left == right
    if fn == "Fn::Not":
        return not _truth(arg[0], tpl, params)
    if fn == "Fn::And":
        return all(_truth(a, tpl, params) for a in arg)
    if fn == "Fn::Or":
        return any(_truth(a, tpl, params) for a in arg)
    if fn == "Condition":
        return condition_holds(tpl, arg, params)
    raise AssertionError(f"condition function {fn} is not supported here")


def _scalar(value: Any, params: dict[str, str]) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return params[value["Ref"]]
    return str(value)


def resolve(value: Any, tpl: dict, params: dict[str, str]) -> Any:
    """`value` with every `Fn::If` decided and every `AWS::NoValue` removed."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, then, otherwise = value["Fn::If"]
            return resolve(then if condition_holds(tpl, name, params) else otherwise, tpl, params)
        if value == {"Ref": "AWS::NoValue"}:
            return _DROP
        out = {k: resolve(v, tpl, params) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _DROP}
    if isinstance(value, list):
        return [v for v in (resolve(v, tpl, params) for v in value) if v is not _DROP]
    return value


def deployed(tpl: dict, **given: str) -> tuple[dict[str, dict], dict[str, dict], dict[str, str]]:
    """(resources, outputs, parameter values) CloudFormation would create for `given`."""
    params = parameter_values(tpl, **given)

    def kept(items: dict[str, dict]) -> dict[str, dict]:
        return {
            name: resolve(item, tpl, params)
            for name, item in items.items()
            if "Condition" not in item or condition_holds(tpl, item["Condition"], params)
        }

    return kept(tpl["Resources"]), kept(tpl.get("Outputs", {})), params


def references(value: Any) -> set[str]:
    """Logical names (resources or parameters) a resolved value refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        for fn, arg in value.items():
            if fn == "Ref":
                found.add(arg)
            elif fn == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else arg.split(".")[0])
            elif fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                found |= {v.split(".")[0] for v in _SUB_VARIABLE.findall(text)} - set(variables)
                found |= references(variables)
            else:
                found |= references(arg)
    elif isinstance(value, list):
        for v in value:
            found |= references(v)
    return {name for name in found if not name.startswith("AWS::")}


def substitute(value: Any, params: dict[str, str]) -> Any:
    """A resolved `Fn::Sub` / parameter `Ref` as text; resource names and pseudo
    parameters stay `${Name}` placeholders."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = value["Ref"]
        return params[name] if name in params else "${" + name + "}"
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        arg = value["Fn::Sub"]
        text, variables = (arg, {}) if isinstance(arg, str) else arg
        local = {k: substitute(v, params) for k, v in variables.items()}

        def one(m: re.Match) -> str:
            name = m.group(1)
            return local.get(name, params.get(name, m.group(0)))

        return _SUB_VARIABLE.sub(one, text)
    return value
