"""The orders use cases: place an order, read one, and the saga that decides it."""

from orders.application.errors import (
    OrderNotFoundError,
    OrdersApplicationError,
    PaymentDeclinedError,
    StockRejectedError,
)
from orders.application.get_order import GetOrder, GetOrderHandler, OrderDetails
from orders.application.place_order import (
    OrderPlaced,
    PlaceOrder,
    PlaceOrderHandler,
    PlaceOrderOnce,
    PlaceOrderOnceHandler,
)
from orders.application.replies import DeliverStockReply
from orders.application.saga import OrderSaga, OrderSagaContext, SagaTimeouts

__all__ = (
    "PlaceOrder",
    "PlaceOrderHandler",
    "PlaceOrderOnce",
    "PlaceOrderOnceHandler",
    "OrderPlaced",
    "GetOrder",
    "GetOrderHandler",
    "OrderDetails",
    "DeliverStockReply",
    "OrderSaga",
    "OrderSagaContext",
    "SagaTimeouts",
    "OrdersApplicationError",
    "OrderNotFoundError",
    "PaymentDeclinedError",
    "StockRejectedError",
)
