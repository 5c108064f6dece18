"""The four EC2 image-usage-report actions, added to moto's EC2 response class.

moto looks up ``camelcase_to_underscores(Action)`` on ``EC2Response`` at
request time, parses the query string through botocore's EC2 input shape
(``automated_parameter_parsing``) and serialises an ``ActionResult`` through
botocore's output shape (``graft.py``).  So these methods only validate, call the
store (``reports/``) and return plain dicts keyed by botocore member names: the XML
(element names, ``<item>`` lists, namespace, requestId, EC2 error envelope) is
wire-exact by construction, timestamps with their milliseconds (``MillisResult``).
"""

from __future__ import annotations

import re
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response

from ..clock import Clock
from ..config import Config
from ..control import synthetic
from ..control.oddities import Oddities
from ..listing import paginate, paginate_lazily
from ..once import once
from ..reports import query as q
from ..reports.model import LAUNCH_TEMPLATE, VALID_RESOURCE_TYPES
from ..reports.store import ReportStore
from ..wire import AwsError
from .graft import MillisResult, graft

ACCOUNT_RE = re.compile(r"^\d{12}$")
REPORT_ID_RE = re.compile(r"^amiur-[0-9a-f]{17}$")


def _ec2_error(err: AwsError) -> EC2ClientError:
    return EC2ClientError(err.code, err.message)


def _bad(message: str) -> EC2ClientError:
    return EC2ClientError("InvalidParameterValue", message)


def _normalise_resource_types(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not raw:
        raise EC2ClientError("MissingParameter", "The request must contain the parameter ResourceTypes")
    out, seen = [], set()
    for item in raw:
        rtype = item.get("ResourceType")
        if rtype not in VALID_RESOURCE_TYPES:
            raise _bad(
                f"Value ({rtype}) for parameter ResourceType is invalid. Valid values: "
                + " | ".join(VALID_RESOURCE_TYPES)
            )
        if rtype in seen:
            raise _bad(f"The resource type {rtype} is specified more than once")
        seen.add(rtype)
        options = []
        for opt in item.get("ResourceTypeOptions") or []:
            if rtype != LAUNCH_TEMPLATE:
                raise _bad(f"ResourceTypeOptions are valid only for {LAUNCH_TEMPLATE}")
            if opt.get("OptionName") != "version-depth":
                raise _bad(
                    f"Value ({opt.get('OptionName')}) for parameter OptionName is invalid. Valid value: version-depth"
                )
            values = opt.get("OptionValues") or []
            if len(values) != 1 or not str(values[0]).isdigit() or not 1 <= int(values[0]) <= 10000:
                raise _bad(
                    f"Value ({','.join(map(str, values))}) for option version-depth is "
                    "invalid. Specify one integer between 1 and 10000"
                )
            options.append({"OptionName": "version-depth", "OptionValues": [str(int(values[0]))]})
        entry: dict[str, Any] = {"ResourceType": rtype}
        if options:
            entry["ResourceTypeOptions"] = options
        out.append(entry)
    return out


def _account_ids(raw: list[str]) -> list[str]:
    if len(raw) > 200:
        raise _bad("You can specify at most 200 account IDs")
    for account in raw:
        if not ACCOUNT_RE.match(str(account)):
            raise _bad(f"Value ({account}) for parameter AccountId is invalid. Account IDs must be 12 digits")
    return list(dict.fromkeys(raw))  # dedupe, keep order


def _tags(raw: list[dict[str, Any]]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for spec in raw or []:
        if spec.get("ResourceType") != "image-usage-report":
            raise _bad(
                f"'{spec.get('ResourceType')}' is not a valid taggable resource type "
                "for this operation. The ResourceType must be image-usage-report"
            )
        for tag in spec.get("Tags") or []:
            tags[tag["Key"]] = tag.get("Value", "")
    return tags


class UsageReportActions:
    """The four actions, grafted onto moto's EC2Response; each takes the request's response."""

    def __init__(self, reports: ReportStore, clock: Clock, config: Config, oddities: Oddities) -> None:
        self._reports = reports
        self._clock = clock
        self._config = config
        self._oddities = oddities

    def create_image_usage_report(self, response: Any) -> ActionResult:
        image_id = response._get_param("ImageId")
        if not image_id:
            raise EC2ClientError("MissingParameter", "The request must contain the parameter ImageId")
        resource_types = _normalise_resource_types(response._get_param("ResourceTypes", []))
        account_ids = _account_ids(response._get_param("AccountIds", []))
        tags = _tags(response._get_param("TagSpecifications", []))
        if not image_id.startswith("ami-"):
            raise EC2ClientError("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')
        ami = response.ec2_backend.amis.get(image_id)
        if ami is None or ami.owner_id != response.current_account:
            raise EC2ClientError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")
        response.error_on_dryrun()
        try:
            report_id, created = self._reports.create(
                owner=response.current_account,
                region=response.region,
                image_id=image_id,
                resource_types=resource_types,
                account_ids=account_ids,
                tags=tags,
                client_token=response._get_param("ClientToken"),
                now=self._clock.now(),
            )
        except AwsError as err:
            raise _ec2_error(err) from None
        if created and tags:
            response.ec2_backend.create_tags([report_id], tags)
        return MillisResult({"ReportId": report_id})

    def _report_tags(self, response: Any, report_id: str) -> dict[str, str]:
        return dict(response.ec2_backend.tags.get(report_id, {}))

    def _selected_reports(self, response: Any) -> list[Any]:
        """Live reports of the caller, narrowed by ImageIds / ReportIds."""
        image_ids = set(response._get_param("ImageIds", []))
        report_ids = response._get_param("ReportIds", [])
        for rid in report_ids:
            if not REPORT_ID_RE.match(rid):
                raise EC2ClientError(
                    "InvalidImageUsageReportId.Malformed", f'Invalid id: "{rid}" (expecting "amiur-...")'
                )
        now = self._clock.now()
        if report_ids:  # looked up by id: the entries of one report cost the same among 10 or 10,000
            reports, missing = self._reports.find(response.current_account, response.region, report_ids, now)
            if missing:
                raise EC2ClientError(
                    "InvalidImageUsageReportId.NotFound",
                    f"The image usage report ID '{', '.join(missing)}' does not exist",
                )
        else:
            reports = self._reports.live(response.current_account, response.region, now)
        if image_ids:
            reports = [r for r in reports if r.image_id in image_ids]
        return reports

    def describe_image_usage_reports(self, response: Any) -> ActionResult:
        try:
            filters = q.parse_filters(response._get_param("Filters", []), q.REPORT_FILTERS, True)
            size = q.page_size(response._get_param("MaxResults"), self._config.get("max_results_cap"))
            response.error_on_dryrun()
            now = self._clock.now()
            reports = self._selected_reports(response)
            # Filters are evaluated only from the token on, and only until the page
            # and one more match are found: a page costs its own size, not the
            # whole listing's (paging 10,000 reports was quadratic).
            page, token = paginate_lazily(
                reports,
                lambda r: [r.seq],
                size,
                response._get_param("NextToken"),
                "reports",
                lambda r: q.report_matches(r, filters, r.state(now), self._report_tags(response, r.report_id)),
            )
        except AwsError as err:
            raise _ec2_error(err) from None
        result: dict[str, Any] = {
            "ImageUsageReports": [
                self._oddities.report_output(r.to_output(now, self._report_tags(response, r.report_id))) for r in page
            ]
        }
        if token:
            result["NextToken"] = token
        return MillisResult(result)

    def describe_image_usage_report_entries(self, response: Any) -> Any:
        try:
            filters = q.parse_filters(response._get_param("Filters", []), q.ENTRY_FILTERS, False)
            size = q.page_size(response._get_param("MaxResults"), self._config.get("max_results_cap"))
            response.error_on_dryrun()
            now = self._clock.now()
            fast = synthetic.entry_page(
                self._selected_reports(response), filters, size, response._get_param("NextToken"), now
            )
            if fast is not None:  # synthetic reports: same bytes, written directly
                return 200, {"Content-Type": "text/xml", "server": "amazon.com"}, synthetic.entries_xml(*fast)
            entries = [
                (r.seq, e)
                for r in self._selected_reports(response)
                if r.state(now) == "available"
                for e in self._oddities.entry_outputs(r, r.entry_outputs())
                if q.entry_matches(e, filters)
            ]
            page, token = paginate(
                entries,
                lambda p: [p[0], p[1].get("AccountId", "~"), p[1].get("ResourceType", "~")],
                size,
                response._get_param("NextToken"),
                "entries",
            )
        except AwsError as err:
            raise _ec2_error(err) from None
        result: dict[str, Any] = {"ImageUsageReportEntries": [e for _, e in page]}
        if token:
            result["NextToken"] = token
        return MillisResult(result)

    def delete_image_usage_report(self, response: Any) -> ActionResult:
        report_id = response._get_param("ReportId")
        if not report_id:
            raise EC2ClientError("MissingParameter", "The request must contain the parameter ReportId")
        if not REPORT_ID_RE.match(report_id):
            raise EC2ClientError(
                "InvalidImageUsageReportId.Malformed", f'Invalid id: "{report_id}" (expecting "amiur-...")'
            )
        response.error_on_dryrun()
        try:
            self._reports.delete(response.current_account, response.region, report_id, self._clock.now())
        except AwsError as err:
            raise _ec2_error(err) from None
        response.ec2_backend.tags.pop(report_id, None)
        return MillisResult({"Return": True})


ACTIONS = (
    "create_image_usage_report",
    "describe_image_usage_reports",
    "describe_image_usage_report_entries",
    "delete_image_usage_report",
)


@once
def install(actions: UsageReportActions) -> None:
    """Graft the actions onto moto's EC2Response class; once per process."""
    for name in ACTIONS:
        graft(EC2Response, name, getattr(actions, name))
