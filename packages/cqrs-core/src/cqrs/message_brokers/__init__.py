"""Message brokers: the `MessageBroker` port and its in-process implementations.

`cqrs.message_brokers.kafka` re-exports the Kafka broker from the
`cqrs-kafka` distribution when it is installed.
"""

from cqrs.message_brokers.devnull import DevnullMessageBroker
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import BatchMessageBroker, Message, MessageBroker

__all__ = (
    "Message",
    "MessageBroker",
    "BatchMessageBroker",
    "DevnullMessageBroker",
    "InMemoryMessageBroker",
)
