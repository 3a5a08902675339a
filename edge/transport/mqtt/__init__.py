"""MQTT transport (docs/mqtt.md). This package is the only code that imports paho.

Delivery is at-least-once end to end: an event is committed to the outbox first, published
with QoS 1, and deleted only after the broker's PUBACK. paho retransmits in-flight messages
itself after a reconnect; rows still unacknowledged at exit are re-sent by the next process.
"""

from edge.transport.address import BrokerAddress, BrokerOptions, parse_broker_url
from edge.transport.mqtt.client import Subscriber, check_broker, publish_once
from edge.transport.mqtt.link import DEFAULT_MAX_INFLIGHT
from edge.transport.mqtt.publisher import Publisher

__all__ = [
    "DEFAULT_MAX_INFLIGHT",
    "BrokerAddress",
    "BrokerOptions",
    "Publisher",
    "Subscriber",
    "check_broker",
    "parse_broker_url",
    "publish_once",
]
