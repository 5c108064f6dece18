"""Cost Explorer GetReservationUtilization over the wire (boto3 on botocore's ``ce`` model):
figures computed from the seeded reservations, paging, granularities, filters, the
organisation's payer view, refusals and the call counter."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emu_helpers import OWNER

MEMBER = "111111111111"
OTHER = "222222222222"
EC2 = "Amazon Elastic Compute Cloud - Compute"
GROUP_BY = [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}]
EC2_ONLY = {"Dimensions": {"Key": "SERVICE", "Values": [EC2]}}


def today(control: Any) -> date:
    return datetime.fromisoformat(control.get("/clock")["now"].replace("Z", "+00:00")).date()


def reservation(sub: str, start: date, end: date, **extra: Any) -> dict[str, Any]:
    return {
        "account_id": OWNER,
        "subscription_id": sub,
        "instance_type": "m5.large",
        "region": "eu-west-1",
        "number_of_instances": 2,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "recurring_hourly_usd": 0.06,
        "on_demand_hourly_usd": 0.1,
        **extra,
    }


def groups_of(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["Value"]: g for t in answer["UtilizationsByTime"] for g in t["Groups"]}


def error_code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def test_grouped_figures_are_computed_from_the_seeded_reservation(control: Any, aws: Any) -> None:
    t = today(control)
    control.post(
        "/reservations",
        {"reservations": [reservation("111", t - timedelta(days=100), t + timedelta(days=20), used_fraction=0.25)]},
    )
    start, end = t - timedelta(days=7), t
    answer = aws("ce").get_reservation_utilization(
        TimePeriod={"Start": start.isoformat(), "End": end.isoformat()}, GroupBy=GROUP_BY, Filter=EC2_ONLY
    )
    group = groups_of(answer)["111"]
    u = group["Utilization"]
    purchased = 7 * 24 * 2  # End is exclusive: 7 whole days of 2 instances
    assert float(u["PurchasedHours"]) == purchased
    assert float(u["TotalActualHours"]) == purchased * 0.25
    assert float(u["UnusedHours"]) == purchased * 0.75
    assert float(u["UtilizationPercentage"]) == 25
    assert float(u["PurchasedUnits"]) == purchased * 4  # large = 4 normalized units
    assert float(u["TotalAmortizedFee"]) == pytest.approx(purchased * 0.06)
    assert float(u["OnDemandCostOfRIHoursUsed"]) == pytest.approx(purchased * 0.25 * 0.1)
    assert float(u["NetRISavings"]) == pytest.approx(purchased * 0.25 * 0.1 - purchased * 0.06)
    assert float(u["RICostForUnusedHours"]) == pytest.approx(purchased * 0.75 * 0.06)
    attrs = group["Attributes"]
    assert attrs["instanceType"] == "m5.large" and attrs["region"] == "eu-west-1"
    assert attrs["accountId"] == OWNER and attrs["numberOfInstances"] == "2"
    assert attrs["subscriptionId"] == "111" and attrs["subscriptionType"] == "No Upfront"
    assert attrs["endDateTime"] == (t + timedelta(days=20)).isoformat() + "T00:00:00.000Z"
    assert answer["UtilizationsByTime"][0]["TimePeriod"] == {"Start": start.isoformat(), "End": end.isoformat()}
    assert answer["Total"]["PurchasedHours"] == u["PurchasedHours"]


def test_a_term_inside_the_period_counts_only_its_hours_and_others_are_left_out(control: Any, aws: Any) -> None:
    t = today(control)
    control.post(
        "/reservations",
        {
            "reservations": [
                reservation(
                    "late", t - timedelta(days=3), t + timedelta(days=300), number_of_instances=1, used_hours_per_day=12
                ),
                reservation("over", t - timedelta(days=400), t - timedelta(days=30)),
            ]
        },
    )
    answer = aws("ce").get_reservation_utilization(
        TimePeriod={"Start": (t - timedelta(days=7)).isoformat(), "End": t.isoformat()}, GroupBy=GROUP_BY
    )
    groups = groups_of(answer)
    assert set(groups) == {"late"}  # the retired one has no hours in the period
    assert float(groups["late"]["Utilization"]["PurchasedHours"]) == 3 * 24
    assert float(groups["late"]["Utilization"]["UtilizationPercentage"]) == 50


def test_pages_follow_next_page_token_and_a_forged_token_is_refused(control: Any, aws: Any) -> None:
    t = today(control)
    subs = [f"sub-{i}" for i in range(5)]
    control.post(
        "/reservations",
        {"reservations": [reservation(s, t - timedelta(days=30), t + timedelta(days=30)) for s in subs]},
    )
    control.post("/cost_explorer", {"page_size": 2})
    ce = aws("ce")
    request = {"TimePeriod": {"Start": (t - timedelta(days=7)).isoformat(), "End": t.isoformat()}, "GroupBy": GROUP_BY}
    seen, pages, token = [], 0, None
    while True:
        answer = ce.get_reservation_utilization(**request, **({"NextPageToken": token} if token else {}))
        pages += 1
        seen += list(groups_of(answer))
        token = answer.get("NextPageToken")
        if not token:
            break
    assert sorted(seen) == subs and pages == 3
    assert float(answer["Total"]["PurchasedHours"]) == 5 * 7 * 24 * 2  # Total covers every page
    with pytest.raises(ClientError) as err:
        ce.get_reservation_utilization(**request, NextPageToken="bm90LWEtdG9rZW4=")
    assert error_code(err) == "InvalidNextTokenException"
    counters = control.get("/reservations")["counters"]["GetReservationUtilization"]
    assert counters["calls"] == 4 and counters["errors"] == {"InvalidNextTokenException": 1}


def test_daily_and_monthly_granularity_without_group_by(control: Any, aws: Any) -> None:
    t = today(control)
    control.post(
        "/reservations",
        {"reservations": [reservation("d", t - timedelta(days=90), t + timedelta(days=90), used_fraction=0.5)]},
    )
    ce = aws("ce")
    start = t - timedelta(days=40)
    daily = ce.get_reservation_utilization(TimePeriod={"Start": start.isoformat(), "End": t.isoformat()})
    assert len(daily["UtilizationsByTime"]) == 40  # DAILY is the default
    assert all(float(b["Total"]["PurchasedHours"]) == 48 for b in daily["UtilizationsByTime"])
    monthly = ce.get_reservation_utilization(
        TimePeriod={"Start": start.isoformat(), "End": t.isoformat()}, Granularity="MONTHLY"
    )
    spans = [(b["TimePeriod"]["Start"], b["TimePeriod"]["End"]) for b in monthly["UtilizationsByTime"]]
    assert spans[0][0] == start.isoformat() and spans[-1][1] == t.isoformat()
    assert all(e[8:] == "01" for _, e in spans[:-1])  # cut at calendar months
    hours = sum(float(b["Total"]["PurchasedHours"]) for b in monthly["UtilizationsByTime"])
    assert hours == float(monthly["Total"]["PurchasedHours"]) == 40 * 48
    assert float(monthly["Total"]["UtilizationPercentage"]) == 50


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"TimePeriod": {"Start": "2025-01-10", "End": "2025-01-10"}}, "before end date"),
        ({"TimePeriod": {"Start": "2025-1-1", "End": "2025-02-01"}}, "failed to satisfy constraint"),
        ({"Granularity": "MONTHLY"}, "Granularity can't be set when GroupBy is set"),
        ({"Granularity": "HOURLY", "GroupBy": []}, "supports DAILY and MONTHLY"),
        ({"GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}]}, "groups only by"),
        ({"Filter": {"Dimensions": {"Key": "SERVICE", "Values": [EC2, "Amazon Redshift"]}}}, "should not exceed 1"),
        ({"Filter": {"Or": [EC2_ONLY, EC2_ONLY]}}, "joined by And"),
        ({"SortBy": {"Key": "Nonsense"}}, "SortBy key"),
    ],
)
def test_refused_requests_answer_validation_exception(
    control: Any, aws: Any, change: dict[str, Any], fragment: str
) -> None:
    t = today(control)
    request = {
        "TimePeriod": {"Start": (t - timedelta(days=7)).isoformat(), "End": t.isoformat()},
        "GroupBy": GROUP_BY,
        **change,
    }
    with pytest.raises(ClientError) as err:
        aws("ce").get_reservation_utilization(**request)
    assert error_code(err) == "ValidationException" and err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert fragment in err.value.response["Error"]["Message"]


def test_a_start_after_today_is_refused(control: Any, aws: Any) -> None:
    t = today(control)
    with pytest.raises(ClientError) as err:
        aws("ce").get_reservation_utilization(
            TimePeriod={"Start": (t + timedelta(days=1)).isoformat(), "End": (t + timedelta(days=2)).isoformat()}
        )
    assert error_code(err) == "ValidationException"


def test_a_service_without_ec2_reservations_has_no_groups(control: Any, aws: Any) -> None:
    t = today(control)
    control.post("/reservations", {"reservations": [reservation("e", t - timedelta(days=30), t + timedelta(days=30))]})
    answer = aws("ce").get_reservation_utilization(
        TimePeriod={"Start": (t - timedelta(days=7)).isoformat(), "End": t.isoformat()},
        GroupBy=GROUP_BY,
        Filter={"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Relational Database Service"]}},
    )
    assert groups_of(answer) == {} and float(answer["Total"]["PurchasedHours"]) == 0


def test_the_payer_sees_its_members_and_a_member_only_itself(control: Any, aws: Any) -> None:
    t = today(control)
    span = (t - timedelta(days=30), t + timedelta(days=30))
    control.post(
        "/reservations",
        {
            "reservations": [
                reservation("mine", *span),
                reservation("member", *span, account_id=MEMBER),
                reservation("stranger", *span, account_id=OTHER),
            ]
        },
    )
    control.post("/cost_explorer", {"accounts": {MEMBER: {"payer": OWNER, "name": "payments-prod"}}})
    request = {"TimePeriod": {"Start": (t - timedelta(days=7)).isoformat(), "End": t.isoformat()}, "GroupBy": GROUP_BY}
    payer_view = groups_of(aws("ce").get_reservation_utilization(**request))
    assert set(payer_view) == {"mine", "member"}
    assert payer_view["member"]["Attributes"]["accountName"] == "payments-prod"
    assert set(groups_of(aws("ce", account=MEMBER).get_reservation_utilization(**request))) == {"member"}


@pytest.mark.parametrize(
    ("access", "code", "fragment"),
    [
        ("denied", "AccessDeniedException", "not authorized to perform: ce:GetReservationUtilization"),
        ("not_enabled", "AccessDeniedException", "not enabled for cost explorer"),
        ("data_unavailable", "DataUnavailableException", "Data is not available"),
    ],
)
def test_accounts_without_cost_explorer_are_refused(
    control: Any, aws: Any, access: str, code: str, fragment: str
) -> None:
    t = today(control)
    control.post("/cost_explorer", {"accounts": {MEMBER: {"access": access}}})
    with pytest.raises(ClientError) as err:
        aws("ce", account=MEMBER).get_reservation_utilization(
            TimePeriod={"Start": (t - timedelta(days=7)).isoformat(), "End": t.isoformat()}, GroupBy=GROUP_BY
        )
    assert error_code(err) == code and fragment in err.value.response["Error"]["Message"]
    assert control.get("/reservations")["counters"]["GetReservationUtilization"]["by_account"] == {MEMBER: 1}


def test_throttled_calls_count_and_a_retrying_client_gets_through(control: Any, aws: Any) -> None:
    t = today(control)
    control.post("/reservations", {"reservations": [reservation("r", t - timedelta(days=30), t + timedelta(days=30))]})
    control.post("/cost_explorer", {"limit_exceeded_next": 2})
    request = {"TimePeriod": {"Start": (t - timedelta(days=7)).isoformat(), "End": t.isoformat()}, "GroupBy": GROUP_BY}
    with pytest.raises(ClientError) as err:
        aws("ce").get_reservation_utilization(**request)
    assert error_code(err) == "LimitExceededException"
    patient = aws("ce", retries={"total_max_attempts": 3, "mode": "standard"})
    assert set(groups_of(patient.get_reservation_utilization(**request))) == {"r"}
    counters = control.get("/reservations")["counters"]["GetReservationUtilization"]
    assert counters["calls"] == 3 and counters["errors"] == {"LimitExceededException": 2}  # each attempt is billed


def test_only_the_us_east_1_endpoint_serves_it(control: Any, aws: Any) -> None:
    t = today(control)
    with pytest.raises(ClientError) as err:
        aws("ce", region="eu-west-1").get_reservation_utilization(
            TimePeriod={"Start": (t - timedelta(days=7)).isoformat(), "End": t.isoformat()}
        )
    assert error_code(err) == "InvalidSignatureException"


@pytest.mark.parametrize(
    "body",
    [
        {"reservations": [{"account_id": OWNER}]},
        {"reservations": [reservation("x", date(2025, 2, 1), date(2025, 1, 1))]},
        {"reservations": [reservation("x", date(2025, 1, 1), date(2026, 1, 1), used_fraction=1.5)]},
        {"reservations": [reservation("x", date(2025, 1, 1), date(2026, 1, 1), colour="red")]},
        {"reservations": [reservation("x", date(2025, 1, 1), date(2026, 1, 1), used_hours_per_day=49)]},
    ],
)
def test_bad_seeds_are_refused_and_nothing_is_stored(control: Any, body: dict[str, Any]) -> None:
    control.post("/reservations", body, expect=400)
    assert control.get("/reservations")["reservations"] == []


def test_bad_cost_explorer_settings_are_refused(control: Any) -> None:
    control.post("/cost_explorer", {"accounts": {MEMBER: {"access": "maybe"}}}, expect=400)
    control.post("/cost_explorer", {"page_size": 0}, expect=400)
    control.post("/cost_explorer", {"limit_exceeded_next": -1}, expect=400)
    assert control.get("/cost_explorer")["accounts"] == {}
