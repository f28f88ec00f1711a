"""The broker's definitions, built from ``shared.messaging.topology`` and ``deploy.broker_access``.

``deploy/rabbitmq/definitions.json`` holds the vhost, every user's permissions and topic permissions, and the
whole topology (exchanges, quorum queues with their exact arguments, dead-letter queues, bindings): what
``AmqpBus`` declares, so services need no ``configure`` right. RabbitMQ imports it at boot right after
``01-users.json``, which ``render-users.sh`` writes from the passwords in the environment: no credential is
ever committed. ``python deploy/generate.py`` writes the file.
"""

from __future__ import annotations

import json
from typing import Any

from deploy.broker_access import DEFAULT_USER_PREFIX, DEFAULT_VHOST, grants, user_name
from shared.messaging.topology import DLQ_ARGUMENTS, Topology


def _exchange(name: str, kind: str, vhost: str) -> dict[str, Any]:
    return {"name": name, "vhost": vhost, "type": kind, "durable": True, "auto_delete": False, "internal": False,
            "arguments": {}}


def _queue(name: str, arguments: dict[str, Any], vhost: str) -> dict[str, Any]:
    return {"name": name, "vhost": vhost, "durable": True, "auto_delete": False, "arguments": arguments}


def _binding(source: str, destination: str, routing_key: str, vhost: str, arguments: dict[str, Any] | None = None,
             destination_type: str = "queue") -> dict[str, Any]:
    return {"source": source, "vhost": vhost, "destination": destination, "destination_type": destination_type,
            "routing_key": routing_key, "arguments": arguments or {}}


def topology_definitions(topology: Topology, vhost: str) -> dict[str, list[dict[str, Any]]]:
    """Return the exchanges, queues and bindings ``AmqpBus`` would declare for the whole suite, as definitions."""
    exchanges = [_exchange(name, "topic", vhost) for name in topology.topic_exchanges()]
    exchanges += [_exchange(topology.partitioned_market_exchange, "headers", vhost),
                  _exchange(topology.dead_letter_exchange, "direct", vhost)]
    bindings = [_binding(topology.exchange("market"), topology.partitioned_market_exchange, "#", vhost,
                         destination_type="exchange")]
    queues = []
    for dlq in topology.dead_letter_queues():
        queues.append(_queue(dlq.name, dict(DLQ_ARGUMENTS), vhost))
        bindings.append(_binding(topology.dead_letter_exchange, dlq.name, dlq.key, vhost))
    for spec in topology.suite_queues():
        queues.append(_queue(spec.name, spec.arguments(), vhost))
        for binding in spec.bindings:
            if binding.headers:
                bindings.append(_binding(binding.exchange, spec.name, "", vhost, dict(binding.headers)))
            else:
                bindings.append(_binding(binding.exchange, spec.name, binding.pattern, vhost))
    return {"exchanges": exchanges, "queues": queues, "bindings": bindings}


def definitions(topology: Topology | None = None, vhost: str = DEFAULT_VHOST,
                user_prefix: str = DEFAULT_USER_PREFIX) -> dict[str, Any]:
    """Return the broker definitions (no users: those come from the environment) for ``topology`` in ``vhost``."""
    topology = topology or Topology()
    permissions, topic_permissions = [], []
    for role, grant in grants(topology).items():
        user = user_name(role, user_prefix)
        permissions.append({"user": user, "vhost": vhost, "configure": grant.configure, "write": grant.write,
                            "read": grant.read})
        topic_permissions += [{"user": user, "vhost": vhost, "exchange": exchange, "write": write, "read": read}
                              for exchange, (write, read) in grant.topics.items()]
    return {"vhosts": [{"name": vhost}], "permissions": permissions, "topic_permissions": topic_permissions,
            **topology_definitions(topology, vhost)}


def definitions_json(topology: Topology | None = None, vhost: str = DEFAULT_VHOST,
                     user_prefix: str = DEFAULT_USER_PREFIX) -> str:
    """Return ``definitions(...)`` as the JSON text committed in ``deploy/rabbitmq/definitions.json``."""
    return json.dumps(definitions(topology, vhost, user_prefix), indent=2) + "\n"
