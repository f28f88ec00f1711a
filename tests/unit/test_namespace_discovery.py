"""How ``tail`` and ``dlq`` pick a namespace when none is given, and how ``dlq`` qualifies a queue's short name."""

from __future__ import annotations

from tools.ops.dlq import qualify
from tools.ops.options import KNOWN_NAMESPACES, NamespaceProbe, choose_namespace


def probes(**found: tuple[int, int]) -> list[NamespaceProbe]:
    return [NamespaceProbe(namespace, *found.get(namespace.replace("-", "_"), (0, 0)))
            for namespace in KNOWN_NAMESPACES]


def test_the_probed_namespaces_are_those_up_and_run_use() -> None:
    assert KNOWN_NAMESPACES == ("tradebus", "tradebus-run")


def test_a_running_suite_wins_over_one_whose_queues_only_exist() -> None:
    chosen, why = choose_namespace(probes(tradebus=(9, 0), tradebus_run=(9, 7)))

    assert chosen == "tradebus-run" and "running" in why


def test_with_two_suites_running_the_first_is_taken_and_the_other_named() -> None:
    chosen, why = choose_namespace(probes(tradebus=(9, 7), tradebus_run=(9, 7)))

    assert chosen == "tradebus" and "also running: tradebus-run" in why and "--namespace" in why


def test_with_nothing_running_a_namespace_whose_queues_exist_is_taken() -> None:
    assert choose_namespace(probes(tradebus_run=(9, 0)))[0] == "tradebus-run"


def test_with_nothing_on_the_broker_the_default_is_taken_and_the_reason_says_so() -> None:
    chosen, why = choose_namespace(probes())

    assert chosen == "tradebus" and "no suite found" in why and "tradebus-run" in why


def test_a_suite_queue_named_without_its_namespace_gets_it() -> None:
    assert qualify("portfolio.orders", "tradebus-run") == "tradebus-run.portfolio.orders"
    assert qualify("portfolio.orders.dlq", "ns") == "ns.portfolio.orders.dlq"
    assert qualify("strategy.market.p03", "ns") == "ns.strategy.market.p03"


def test_a_full_or_foreign_queue_name_is_left_as_it_is() -> None:
    assert qualify("tradebus.portfolio.orders", "tradebus-run") == "tradebus.portfolio.orders"
    assert qualify("my.own.queue", "ns") == "my.own.queue"
