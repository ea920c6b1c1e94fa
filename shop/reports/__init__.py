"""Read-side figures for the back office: customers' lifetime totals, KPIs, dashboard counts.

Everything here only reads, in a fixed, small number of SQL queries per page (no query per
row), and shares one definition of revenue (``measures``).
"""
