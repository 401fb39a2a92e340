"""The money side (issue 17): the restaurant's currency, what an order costs, and how it is paid.

Every amount is an integer in the currency's minor units (cents; yen have none), every percent an
integer × 1000 (`_milli`). Nothing here touches the database: services/ store and read the rows,
these modules compute and format.
"""
