"""SSM DescribeParameters' ``DataType`` filter, which moto 5.2.5 refuses.

The SSM model's ``ParameterStringFilter.Key`` pattern is ``tag:.+|Name|Type|KeyId|Path|Label|Tier|DataType``
and its documentation: "For DescribeParameters, all of the listed patterns are valid except
Label."  A member account lists its parameters holding AMI ids with
``ParameterFilters=[{"Key": "DataType", "Values": ["aws:ec2:image"]}]``; moto's older pattern
lacks ``DataType`` and answered ``ValidationException``.  Here the ``DataType`` filter
(option ``Equals``, at least one value, once per request) is taken out before moto's own
filtering and applied to its result (moto pages after filtering, so pages stay full).
"""

from __future__ import annotations

from typing import Any

from moto.ssm.exceptions import InvalidFilterKey, InvalidFilterOption, InvalidFilterValue
from moto.ssm.models import SimpleSystemManagerBackend

from ..once import once
from .graft import wrap


def _data_types(filters: list[dict[str, Any]]) -> set[str] | None:
    wanted = [f for f in filters if f.get("Key") == "DataType"]
    if not wanted:
        return None
    if len(wanted) > 1:
        raise InvalidFilterKey(
            "The following filter is duplicated in the request: DataType. "
            "A request can contain only one occurrence of a specific filter."
        )
    [only] = wanted
    if only.get("Option", "Equals") != "Equals":
        raise InvalidFilterOption(
            f"The following filter option is not valid: {only.get('Option')}. Valid options include: [Equals]."
        )
    if not only.get("Values"):
        raise InvalidFilterValue("The following filter values are missing : null for filter key DataType.")
    return set(only["Values"])


def _wrap_describe_parameters(original: Any) -> Any:
    def describe_parameters(self: Any, filters: Any, parameter_filters: Any) -> Any:
        data_types = _data_types(parameter_filters or [])
        if data_types is None:
            return original(self, filters, parameter_filters)
        rest = [f for f in parameter_filters if f.get("Key") != "DataType"]
        return [p for p in original(self, filters, rest) if p.data_type in data_types]

    return describe_parameters


@once
def install() -> None:
    wrap(SimpleSystemManagerBackend, "describe_parameters", _wrap_describe_parameters)
