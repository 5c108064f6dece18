"""The function's environment exactly as template.yaml deploys it (parameter defaults,
conditions decided, the stack's own resources standing in for their names) is a
configuration the real binary accepts: every phase the schedules trigger runs with it.
A parameter default the binary refuses (e.g. a new variable's) would fail every run of
every new stack."""

from __future__ import annotations

import json

import pytest
from fleet import archive_and_alerting
from harness import REGION, ROOT, base_env, run_binary
from support.cfn_conditions import deployed, substitute
from support.glue_schema import load_template


def template_environment(bucket: str, topic_arn: str, **parameters: str) -> dict[str, str]:
    resources, _, params = deployed(load_template(ROOT / "template.yaml"), **parameters)
    names = {
        **params,
        "ArchiveBucket": bucket,
        "AlertTopic": topic_arn,
        "AthenaDatabase": params["AthenaDatabaseName"],
        "AthenaWorkGroup": "stack-ami-usage",
        "AWS::AccountId": "123456789012",
        "AWS::Region": REGION,
    }
    variables = resources["ReporterFunction"]["Properties"]["Environment"]["Variables"]
    return {name: str(substitute(value, names)) for name, value in variables.items()}


@pytest.mark.parametrize(
    "parameters",
    [{}, {"DigestReservations": "on", "RouteTag": "Team", "RiUtilizationAlertPercent": "95", "DigestListLimit": "5"}],
    ids=["defaults", "digest-options"],
)
def test_every_scheduled_phase_accepts_the_template_environment(emu, parameters):
    alerting = archive_and_alerting(emu)
    environment = template_environment(alerting.bucket, alerting.topic_arn, **parameters)
    assert all("${" not in v for v in environment.values()), environment
    env = base_env(emu, **environment)
    events = json.loads((ROOT / "events" / "digest.json").read_text())
    assert events == {"phase": "digest"}
    for phase in ("create", "collect", "digest"):
        result = run_binary(emu, [phase, "--now", emu.now()], env)
        assert result.code == 0, (phase, result.stderr)
        assert result.summary["phase"] == phase
    expected = "off" if parameters.get("DigestReservations", "off") == "off" else "ok"
    assert result.summary["reservations_status"] == expected
