"""WSGI wrapper around moto's server, and the ``python -m ami_usage_emulator`` entry point.

Request path:  control API (``/_emulator/...``)  |  otherwise identify the
AWS call -> serve Image Builder's recipe actions (``imagebuilder_api.py``; moto has
no Image Builder) and Recycle Bin's rules (``rbin_api.py``; nor rbin), each after its
fault check -> answer an S3 request signed for another Region than its bucket's
as S3 does (``bucket_region.py``) -> serve Cost Explorer's GetReservationUtilization from the
seeded reservations (``ce_api.py``) -> count it and maybe answer with an injected fault -> hand it to
moto's own ``DomainDispatcherApplication`` (with the four report actions
grafted onto moto's EC2 response class) -> log accepted SNS publishes.

moto is not written to be thread-safe, so calls into it are serialised by one
lock; the exception is SQS ReceiveMessage, whose long polls would otherwise
block the SNS publish they are waiting for.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

from .aws_request import AwsCall, identify, sns_message_attributes
from .control.api import ControlApi
from .control.faults import Fault, is_mutating
from .moto_grafts import bucket_region, moto_fixes
from .state import STATE
from .wire import error_response

WARM_SERVICES = ("ec2", "sts", "s3", "sns", "sqs", "iam", "autoscaling", "ssm")


def _resources(call: AwsCall) -> list[str]:
    """The resource ids a mutating EC2 call names (ImageId, or CreateTags' ResourceId.N)."""
    p = call.params
    named = [p["ImageId"]] if p.get("ImageId") else []
    named += [v for k, v in sorted(p.items()) if k.startswith("ResourceId.")]
    return named


def _logged(call: AwsCall) -> bool:
    if call.service == "ec2":
        return bool(call.action) and is_mutating(str(call.action))
    return call.service == "rbin" and call.method != "GET" and not call.path.startswith("/list-rules")


class EmulatorApp:
    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from .moto_grafts import image_fields, launch_configurations, owner_usage, report_actions, retirement_images

        moto_fixes.install()
        launch_configurations.install()
        report_actions.install()
        owner_usage.install()
        image_fields.install()
        retirement_images.install()
        self._create_backend_app = create_backend_app
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.moto_lock = threading.RLock()
        self.control = ControlApi(self.reset_moto)

    def reset_moto(self) -> None:
        from moto.moto_api._internal import moto_api_backend

        with self.moto_lock:
            moto_api_backend.reset()

    def warm_up(self) -> None:
        """Build moto's per-service Flask apps ahead of the first real request."""
        for service in WARM_SERVICES:
            with self.moto.lock:
                if service not in self.moto.app_instances:
                    self.moto.app_instances[service] = self._create_backend_app(service)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/_emulator/"):
            return self.control(environ, start_response)
        call = identify(environ)
        if call.service == "s3":
            with self.moto_lock:  # reads moto's bucket table
                wrong = bucket_region.wrong_region_answer(call, STATE.config.get("s3_wrong_region"))
            if wrong is not None:
                return bucket_region.respond(wrong, start_response)
        if call.service == "ce" and call.action == "GetReservationUtilization":  # moto's ce lacks it
            from .services import ce_api

            return ce_api.handle(call, environ, start_response)
        if call.service == "rbin":
            from .services import rbin_api

            call.action = rbin_api.operation_of(call)[0]
        fault = self._fault_for(call)
        if fault is not None:
            self._log_call(call, fault.status, fault.code)
            if fault.hang_seconds:
                time.sleep(fault.hang_seconds)  # a test kills the client meanwhile
            return error_response(call.service, fault.status, fault.code, fault.message, start_response)
        if call.service in ("imagebuilder", "rbin"):  # moto has neither: ours
            return self._serve_own(call, environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        long_poll = call.service == "sqs" and call.action == "ReceiveMessage"
        lock = _NullLock() if long_poll else self.moto_lock
        with lock:
            STATE.oddities.before_call(call)
            result = self.moto(environ, capture)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            status = captured["status"]
            STATE.oddities.after_call(call, status.startswith("2"))
            if call.service == "sns" and status.startswith("2"):
                self._log_sns(call, body)  # under the lock: the log keeps publish order
        if _logged(call):
            self._log_call(call, int(status.split()[0]), None)
        if call.service == "ec2":
            body = moto_fixes.polish_ec2_body(body)
            captured["headers"] = [
                (k, str(len(body)) if k.lower() == "content-length" else v) for k, v in captured["headers"]
            ]
        start_response(status, captured["headers"])
        return [body]

    def _serve_own(self, call: AwsCall, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        from .services import imagebuilder_api, rbin_api

        module = rbin_api if call.service == "rbin" else imagebuilder_api
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = status
            return start_response(status, headers, exc_info)

        with self.moto_lock:  # creating a recipe reads moto's AMIs
            body = module.handle(call, environ, capture)
        if _logged(call):
            self._log_call(call, int(captured["status"].split()[0]), None)
        return body

    def _log_call(self, call: AwsCall, status: int, fault: str | None) -> None:
        if not _logged(call):
            return
        STATE.calls.add(
            {
                "timestamp": STATE.now_rfc3339(),
                "account": call.account,
                "region": call.region,
                "service": call.service,
                "action": call.action,
                "resources": _resources(call),
                "status": status,
                "fault": fault,
            }
        )

    def _fault_for(self, call: AwsCall) -> Fault | None:
        if call.service == "ec2" and call.action:
            return STATE.faults.ec2_call(call.account, call.region, call.action)
        if call.service == "rbin" and call.action:
            return STATE.faults.call(call.action)
        if call.is_s3_put_object():
            return STATE.faults.s3_put_object(call.path)
        if call.service == "sns" and call.action == "Publish":
            return STATE.faults.sns_publish()
        return None

    def _log_sns(self, call: AwsCall, body: bytes) -> None:
        text = body.decode("utf-8", "replace")
        base = {"account": call.account, "region": call.region, "timestamp": STATE.now_rfc3339()}
        p = call.params
        if call.action == "Publish":
            match = re.search(r"<MessageId>([^<]+)</MessageId>", text)
            STATE.sns_log.add(
                {
                    **base,
                    "MessageId": match.group(1) if match else None,
                    "TopicArn": p.get("TopicArn"),
                    "TargetArn": p.get("TargetArn"),
                    "PhoneNumber": p.get("PhoneNumber"),
                    "Subject": p.get("Subject"),
                    "Message": p.get("Message"),
                    "MessageStructure": p.get("MessageStructure"),
                    "MessageAttributes": sns_message_attributes(p, "MessageAttributes"),
                    "MessageGroupId": p.get("MessageGroupId"),
                    "MessageDeduplicationId": p.get("MessageDeduplicationId"),
                }
            )
        elif call.action == "PublishBatch":
            ok = dict(re.findall(r"<member>\s*<Id>([^<]+)</Id>\s*<MessageId>([^<]+)</MessageId>", text))
            n = 1
            while f"PublishBatchRequestEntries.member.{n}.Id" in p:
                pre = f"PublishBatchRequestEntries.member.{n}"
                entry_id = p[f"{pre}.Id"]
                if entry_id in ok:
                    STATE.sns_log.add(
                        {
                            **base,
                            "MessageId": ok[entry_id],
                            "TopicArn": p.get("TopicArn"),
                            "TargetArn": None,
                            "PhoneNumber": None,
                            "Subject": p.get(f"{pre}.Subject"),
                            "Message": p.get(f"{pre}.Message"),
                            "MessageStructure": p.get(f"{pre}.MessageStructure"),
                            "MessageAttributes": sns_message_attributes(p, f"{pre}.MessageAttributes"),
                            "MessageGroupId": p.get(f"{pre}.MessageGroupId"),
                            "MessageDeduplicationId": p.get(f"{pre}.MessageDeduplicationId"),
                        }
                    )
                n += 1


class _NullLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ami_usage_emulator", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("EMULATOR_PORT", "5000")))
    parser.add_argument("--quiet", action="store_true", help="no per-request access log")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs from it
    started = time.monotonic()

    from werkzeug.serving import make_server

    from .keep_alive import KeepAliveRequestHandler

    app = EmulatorApp()
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=KeepAliveRequestHandler)
    if args.quiet:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    threading.Thread(target=app.warm_up, name="warm-up", daemon=True).start()
    print(
        f"ami-usage emulator listening on http://127.0.0.1:{args.port} (ready in {time.monotonic() - started:.2f}s)",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
