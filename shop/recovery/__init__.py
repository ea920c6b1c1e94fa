"""Abandoned-cart recovery: idle carts are marked ABANDONED, then reminded by email.

``policy`` decides who may be written to and when (store settings, consent), ``services``
marks carts and sends the reminders (the periodic job and the back office's "send now"),
``links`` issues and redeems the "recover my cart" links, ``overview`` lists abandoned carts
for the back office.
"""
