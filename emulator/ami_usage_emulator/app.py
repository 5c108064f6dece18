"""WSGI wrapper around moto's server: one request's path through the emulator.

Request path:  control API (``/_emulator/...``)  |  otherwise identify the AWS call
(``aws_request.py``) -> answer an S3 request signed for another Region than its bucket's
as S3 does (``moto_grafts/bucket_region.py``) -> serve Cost Explorer's
GetReservationUtilization from the seeded reservations (``services/ce_api.py``) -> count
it and maybe answer with an injected fault (``control/faults.py``) -> check it against
botocore's model of its operation and the documented values (``validation/``) -> serve Image
Builder's recipe actions and Recycle Bin's rules (``services/``; moto has neither) ->
else hand it to moto's own ``DomainDispatcherApplication`` (with the emulator's actions
grafted onto moto's classes, ``moto_grafts/``) -> log accepted SNS publishes and
mutating calls (``logs.py``).

moto is not written to be thread-safe, so calls into it are serialised by one
lock; the exception is SQS ReceiveMessage, whose long polls would otherwise
block the SNS publish they are waiting for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from .aws_request import AwsCall, identify
from .control.api import ControlApi
from .control.faults import Fault
from .logs import call_record, is_logged, sns_records
from .moto_grafts import bucket_region, moto_fixes
from .moto_grafts.install import install as install_grafts
from .moto_grafts.s3_conditional import S3ConditionalWrites, is_conditional_write
from .services.ce_api import CostExplorerApi
from .services.imagebuilder_api import ImageBuilderApi
from .services.rbin_api import RecycleBinApi, operation_of
from .validation.validator import RequestValidator
from .wire import error_response
from .world import World

WARM_SERVICES = ("ec2", "sts", "s3", "sns", "sqs", "iam", "autoscaling", "ssm")


class EmulatorApp:
    """The WSGI application over ``world``: grafts moto once, serves the emulator's own
    services from ``world``'s stores, and hands the rest to moto."""

    def __init__(self, world: World) -> None:
        self.world = world
        install_grafts(world)
        self.recycle_bin = RecycleBinApi(world.recycle_bin, world.clock)
        self.image_builder = ImageBuilderApi(world.recipes, world.clock)
        self.cost_explorer = CostExplorerApi(world.reservations, world.clock)
        self.validator = RequestValidator(world.config)
        self.s3_conditional = S3ConditionalWrites()
        self._create_backend_app = create_backend_app
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.moto_lock = threading.RLock()
        self.control = ControlApi(world, self.reset_moto)

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
        began = self.s3_conditional.arrived()  # before it waits for moto: a conditional write began
        if call.service == "s3":
            with self.moto_lock:  # reads moto's bucket table
                wrong = bucket_region.wrong_region_answer(call, self.world.config.get("s3_wrong_region"))
            if wrong is not None:
                return bucket_region.respond(wrong, start_response)
        if call.service == "ce" and call.action == "GetReservationUtilization":  # moto's ce lacks it
            refused = self._refused(call, environ, start_response)
            return refused if refused is not None else self.cost_explorer.handle(call, environ, start_response)
        if call.service == "rbin":
            call.action = operation_of(call)[0]
        fault = self._fault_for(call)
        if fault is not None:
            self._log_call(call, fault.status, fault.code)
            if fault.hang_seconds:
                time.sleep(fault.hang_seconds)  # a test kills the client meanwhile
            return error_response(call.service, fault.status, fault.code, fault.message, start_response)
        refused = self._refused(call, environ, start_response)
        if refused is not None:
            return refused
        if call.service in ("imagebuilder", "rbin"):  # moto has neither: ours
            return self._serve_own(call, environ, start_response)
        return self._serve_moto(call, environ, start_response, began)

    def _refused(self, call: AwsCall, environ: dict[str, Any], start_response: Any) -> Iterable[bytes] | None:
        """The answer of the service's own request validation, if the request fails it."""
        refusal = self.validator.check(call, environ)
        if refusal is None:
            return None
        self._log_call(call, refusal.status, None)
        return error_response(call.service, refusal.status, refusal.code, refusal.message, start_response)

    def _serve_moto(self, call: AwsCall, environ: dict[str, Any], start_response: Any, began: int) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        long_poll = call.service == "sqs" and call.action == "ReceiveMessage"
        lock = _NullLock() if long_poll else self.moto_lock
        with lock:
            s3_answer = self.s3_conditional.check(call, began, environ)
            if s3_answer is not None:
                return error_response("s3", *s3_answer, start_response)
            self.world.oddities.before_call(call)
            result = self.moto(environ, capture)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            status = captured["status"]
            self.s3_conditional.served(call, status, body)
            self.world.oddities.after_call(call, status.startswith("2"))
            if call.service == "sns" and status.startswith("2"):
                # under the lock: the log keeps publish order
                for record in sns_records(call, body, self.world.now_rfc3339()):
                    self.world.sns_log.add(record)
        if is_logged(call):
            self._log_call(call, int(status.split()[0]), None)
        if call.service == "ec2":
            body = moto_fixes.polish_ec2_body(body)
            captured["headers"] = [
                (k, str(len(body)) if k.lower() == "content-length" else v) for k, v in captured["headers"]
            ]
        start_response(status, captured["headers"])
        return [body]

    def _serve_own(self, call: AwsCall, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        service = self.recycle_bin if call.service == "rbin" else self.image_builder
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = status
            return start_response(status, headers, exc_info)

        with self.moto_lock:  # creating a recipe reads moto's AMIs
            body = service.handle(call, environ, capture)
        if is_logged(call):
            self._log_call(call, int(captured["status"].split()[0]), None)
        return body

    def _log_call(self, call: AwsCall, status: int, fault: str | None) -> None:
        if is_logged(call):
            self.world.calls.add(call_record(call, status, fault, self.world.now_rfc3339()))

    def _fault_for(self, call: AwsCall) -> Fault | None:
        faults = self.world.faults
        if call.service == "ec2" and call.action:
            return faults.ec2_call(call.account, call.region, call.action, call.params)
        if call.service == "rbin" and call.action:
            return faults.call(call.action)
        if is_conditional_write(call):
            conflict = faults.s3_conditional_write(call.path)
            if conflict is not None:
                return conflict
        if call.is_s3_put_object():
            return faults.s3_put_object(call.path)
        if call.service == "sns" and call.action == "Publish":
            return faults.sns_publish()
        return None


class _NullLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None
