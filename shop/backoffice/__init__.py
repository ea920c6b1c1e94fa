"""What staff read and do across several domain packages: the order list and an order's
page with its payments, refunds, invoices, mails and history (``orders``), confirming a bank
transfer and refunding the way the customer paid (``payments``), sending an order mail again
(``resend``), the stock list and its ledger (``stock``). A cross-domain floor: it may use any
domain package; none of them imports it."""
