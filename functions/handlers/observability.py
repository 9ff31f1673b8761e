"""Powertools logging, metrics and tracing, configured once per function from its settings."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from handlers.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# Optional event field that sets the correlation id; the Lambda request id is used without it.
CORRELATION_ID_PATH = "correlation_id"
# Only AWS SDK calls are traced automatically; database calls are grouped into one subsegment per
# dump instead of one per statement.
TRACED_MODULES = ("botocore",)


class Observability:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.logger = Logger(service=settings.service)
        self.metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service)
        # Engine and adapter modules log through the standard library; give them the same JSON format
        # (and correlation id) as the function's own logs.
        for name in ("cloudbackup", "handlers"):
            logging.getLogger(name)
        from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

        copy_config_to_registered_loggers(source_logger=self.logger, include={"cloudbackup", "handlers"})
        self._tracer: Tracer | None = None

    @property
    def tracer(self) -> Tracer:
        # The X-Ray SDK imports botocore (~0.3 s): create the tracer on the first invocation, not at
        # import, so a cold start that only rejects a bad event or bad settings stays fast.
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=self.settings.service, patch_modules=TRACED_MODULES)
        return self._tracer

    def handler(self, fn: Handler) -> Handler:
        """Logger context (with correlation id), metrics flush and tracing around a Lambda handler."""

        @functools.wraps(fn)
        def traced(event: dict[str, Any], context: Any) -> dict[str, Any]:
            if self.logger.get_correlation_id() is None:
                self.logger.set_correlation_id(context.aws_request_id)
            result: dict[str, Any] = self.tracer.capture_lambda_handler(fn)(event, context)
            return result

        with_metrics = self.metrics.log_metrics(traced, capture_cold_start_metric=True)
        with_logs: Handler = self.logger.inject_lambda_context(
            with_metrics, correlation_id_path=CORRELATION_ID_PATH, clear_state=True
        )
        return with_logs

    @contextlib.contextmanager
    def segment(self, name: str, **annotations: str) -> Iterator[None]:
        """A trace subsegment around one step (a dump and its upload, publishing results)."""
        with self.tracer.provider.in_subsegment(name) as subsegment:
            for key, value in annotations.items():
                subsegment.put_annotation(key, value)
            yield
