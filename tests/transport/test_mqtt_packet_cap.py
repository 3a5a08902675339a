"""The gate's MQTT 5 Maximum Packet Size (issue 9 item 3): consistent with the command cap."""

from __future__ import annotations

from paho.mqtt.enums import MQTTProtocolVersion

from edge.commands.envelope import DEFAULT_MAX_BYTES, command_topic
from edge.transport.mqtt import BrokerOptions, Subscriber
from edge.transport.mqtt.link import MAX_PACKET_BYTES, _Link, connect_properties


def test_the_cap_fits_the_largest_valid_command_and_its_topic() -> None:
    longest = "x" * 64  # site, gate and name are at most 64 characters each
    topic = command_topic("gate" * 64, longest, longest, "a" + "b" * 63)
    # fixed header (5) + topic length (2) + topic + packet id (2) + properties (<= 1,024)
    assert DEFAULT_MAX_BYTES + 5 + 2 + len(topic.encode()) + 2 + 1024 <= MAX_PACKET_BYTES
    assert MAX_PACKET_BYTES <= 2 * DEFAULT_MAX_BYTES  # still a cap worth the name


def test_gate_links_speak_mqtt5_with_the_cap_and_start_clean() -> None:
    link = _Link(BrokerOptions(url="mqtt://127.0.0.1:1"), "t")
    assert link._client.protocol == MQTTProtocolVersion.MQTTv5
    assert link._connect_kwargs["clean_start"] is True
    props = link._connect_kwargs["properties"]
    assert props.MaximumPacketSize == MAX_PACKET_BYTES
    assert not hasattr(props, "SessionExpiryInterval")  # 0: the session ends with the link
    assert connect_properties(None) is None


def test_readers_stay_on_mqtt311_without_a_cap() -> None:
    sub = Subscriber(BrokerOptions(url="mqtt://127.0.0.1:1"), ["a/#"])
    assert sub._client.protocol == MQTTProtocolVersion.MQTTv311
    assert sub._connect_kwargs == {}
