"""Schemathesis hooks for infra/schemathesis (loaded by infra/schemathesis.toml).

- `PATCH /v1/settings` takes a `sender_email` only at the deployment's
  verified sending domain (`SenderDomain` in template.yaml; example.com on
  the local stack), a rule no schema of this API can state. Schema-valid
  requests get an address there, in every phase (the coverage phase ignores
  the config file's body overrides); negative requests are left as generated.
- Stateful scenarios get a fresh `Idempotency-Key` on every schema-valid
  request that sends one. A key already used with the same body replays the
  first response for 24 hours by design (e.g. a 201 naming a resource a
  later step deleted), which the stateful checks would take for a create
  that did not happen. Idempotency itself is exercised by the other phases.
"""

import os
import uuid

import schemathesis
from schemathesis.generation.meta import TestPhase

SENDER_EMAIL = os.environ.get("SCHEMATHESIS_SENDER_EMAIL", "billing@example.com")


def _positive(case):
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


@schemathesis.hook
def map_case(context, case):
    if not _positive(case):
        return case
    body = case.body
    if (
        case.operation.label == "PATCH /v1/settings"
        and isinstance(body, dict)
        and isinstance(body.get("sender_email"), str)
    ):
        case.body = {**body, "sender_email": SENDER_EMAIL}
    meta = case.meta
    if meta is not None and meta.phase.name == TestPhase.STATEFUL and case.headers:
        for name in list(case.headers):
            if name.lower() == "idempotency-key":
                case.headers[name] = f"stateful-{uuid.uuid4().hex}"
    return case
