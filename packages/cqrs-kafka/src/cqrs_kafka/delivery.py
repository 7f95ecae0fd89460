"""`Delivery` and `current_delivery()`, for event handlers run by `subscribe_events`.

They are cqrs-core's (`cqrs.consumer.delivery`), the same for every broker;
this module keeps the import path of earlier releases.

>>> from cqrs.consumer import delivery
>>> current_delivery is delivery.current_delivery
True
"""

from cqrs.consumer.delivery import Delivery, NoDeliveryError, current_delivery, delivering

__all__ = ("Delivery", "NoDeliveryError", "current_delivery", "delivering")
